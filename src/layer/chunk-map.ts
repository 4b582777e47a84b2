// Where every file's bytes live in a compressed eStargz blob: the chunks of each regular file and the
// compressed members (gzip members or zstd frames) holding them. A member starts at a chunk's `offset` and
// ends where the next payload member starts (or at the TOC), so it may carry trailing tar headers; several
// small files may share one member (`innerOffset`). See docs/ESTARGZ.md, "Chunks and members".

import { invalidArgument, limitExceeded } from '../errors.js';
import { DEFAULT_TOC_LIMITS } from '../estargz/toc-limits.js';
import type { TOCEntry } from '../estargz/toc-types.js';

/** One chunk of a regular file: `size` uncompressed bytes at `fileOffset` of the file. */
export interface Chunk {
  /** The file's reg entry (shared by all its chunks). */
  file: TOCEntry;
  fileOffset: number;
  size: number;
  /** Where the chunk starts inside its member's uncompressed bytes. */
  innerOffset: number;
  /** sha256 of the chunk's bytes (`chunkDigest`, or the file `digest` of a one-chunk file lacking it). */
  digest?: string;
  member: Member;
}

/** A compressed member [offset, end) of the blob and the chunks it holds. */
export interface Member {
  offset: number;
  end: number;
  chunks: Chunk[];
}

/**
 * Where the payload members of a blob end, from its opened TOC: the TOC member's offset for eStargz; for
 * zstd:chunked the TOC offset points past the 8-byte header of its skippable frame
 * (docs/ESTARGZ.md, "zstd:chunked").
 */
export function payloadEnd(reader: { format: 'gzip' | 'zstd'; tocOffset: number }): number {
  return reader.format === 'zstd' ? reader.tocOffset - 8 : reader.tocOffset;
}

/** Chunks by file and members by offset for one layer. */
export class ChunkMap {
  private readonly position: Map<Member, number>;

  private constructor(
    private readonly byFile: Map<TOCEntry, Chunk[]>,
    /** Every member holding payload, in offset order. */
    readonly members: readonly Member[],
  ) {
    this.position = new Map(members.map((m, i) => [m, i]));
  }

  /**
   * Index the TOC's entries; `payloadEnd` is where the last member ends (the TOC's offset). A member spans
   * from its offset to the next one's: one longer than `maxMemberSpan` compressed bytes (default: the TOC
   * limit on decoded member bytes, which deflate and zstd never exceed by more than a few per mille) is
   * refused rather than fetched whole.
   */
  static build(entries: readonly TOCEntry[], payloadEnd: number, maxMemberSpan = DEFAULT_TOC_LIMITS.maxMemberBytes): ChunkMap {
    const byFile = new Map<TOCEntry, Chunk[]>();
    const byOffset = new Map<number, Member>();
    let current: TOCEntry | undefined;
    for (const e of entries) {
      if (e.type === 'reg') current = e;
      else if (e.type !== 'chunk') continue;
      if (!current || (e.type === 'chunk' && e.name !== current.name)) {
        throw invalidArgument(`TOC chunk entry ${JSON.stringify(e.name)} does not follow its file`);
      }
      const chunk = newChunk(current, e, byOffset);
      if (!chunk) continue;
      const list = byFile.get(current) ?? [];
      list.push(chunk);
      byFile.set(current, list);
    }
    const members = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
    members.forEach((m, i) => {
      m.end = members[i + 1]?.offset ?? payloadEnd;
      if (m.end <= m.offset) throw invalidArgument(`TOC member at offset ${m.offset} is empty or past the TOC (${payloadEnd})`);
      if (m.end - m.offset > maxMemberSpan) {
        throw limitExceeded(`TOC member at offset ${m.offset} spans ${m.end - m.offset} compressed bytes, over the limit of ${maxMemberSpan}`);
      }
    });
    return new ChunkMap(byFile, members);
  }

  /** The chunks of a reg entry, in file order (empty for an empty file). */
  chunksOf(file: TOCEntry): readonly Chunk[] {
    return this.byFile.get(file) ?? [];
  }

  /** The chunks of `file` overlapping the uncompressed range [offset, offset + length). */
  chunksIn(file: TOCEntry, offset: number, length: number): Chunk[] {
    const end = offset + length;
    return this.chunksOf(file).filter((c) => c.fileOffset < end && c.fileOffset + c.size > offset);
  }

  /** The members following `member` in the blob, as many as fit in `maxBytes` compressed bytes. */
  membersAfter(member: Member, maxBytes: number): Member[] {
    const out: Member[] = [];
    let bytes = 0;
    for (let i = (this.position.get(member) ?? this.members.length) + 1; i < this.members.length; i++) {
      const m = this.members[i]!;
      bytes += m.end - m.offset;
      if (bytes > maxBytes) break;
      out.push(m);
    }
    return out;
  }

  /** Index of `member` in `members` (-1 when it is not one of this map's). */
  indexOf(member: Member): number {
    return this.position.get(member) ?? -1;
  }

  /** The members following `member` until their chunks hold `maxPlainBytes` uncompressed bytes (at least one). */
  membersAhead(member: Member, maxPlainBytes: number): Member[] {
    const out: Member[] = [];
    let bytes = 0;
    for (let i = (this.position.get(member) ?? this.members.length) + 1; i < this.members.length && bytes < maxPlainBytes; i++) {
      const m = this.members[i]!;
      for (const c of m.chunks) bytes += c.size;
      out.push(m);
    }
    return out;
  }

  /** Members whose offset is below `limit` (the prefetch region [0, limit)). */
  membersBelow(limit: number): Member[] {
    return this.members.filter((m) => m.offset < limit);
  }
}

function newChunk(file: TOCEntry, e: TOCEntry, byOffset: Map<number, Member>): Chunk | undefined {
  const fileSize = file.size ?? 0;
  const fileOffset = e.chunkOffset ?? 0;
  const size = e.chunkSize ? e.chunkSize : fileSize - fileOffset;
  if (size <= 0) return undefined;
  if (fileOffset + size > fileSize) {
    throw invalidArgument(`TOC entry ${JSON.stringify(e.name)} has a chunk outside its file`);
  }
  const oneChunk = fileOffset === 0 && size === fileSize;
  const digest = e.chunkDigest || (oneChunk ? file.digest : undefined) || undefined;
  const offset = e.offset ?? 0; // omitted when 0, as Go's omitempty writes it
  let member = byOffset.get(offset);
  if (!member) {
    member = { offset, end: offset, chunks: [] };
    byOffset.set(offset, member);
  }
  const chunk: Chunk = { file, fileOffset, size, innerOffset: e.innerOffset ?? 0, member };
  if (digest) chunk.digest = digest;
  member.chunks.push(chunk);
  return chunk;
}
