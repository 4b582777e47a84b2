// What a TOC may declare, and the one pass that checks a TOC against it before anything is built from it.
// A TOC comes from an untrusted image: without bounds, one entry can ask a reader to decompress a 4 GiB
// chunk (a gzip bomb) and a million entries can cost gigabytes of memory. Every bound is a limit of the
// tool (LimitExceeded, naming the value and the limit); everything else wrong is InvalidArgument naming
// the entry. Names follow the one rule of oci/entry-name.ts. docs/SECURITY.md lists the values.
import { invalidArgument, limitExceeded } from '../errors.js';
import { cleanEntryName } from '../oci/entry-name.js';
import type { TOCEntry } from './toc-types.js';

/** Bounds on what one layer's TOC may declare; every field has a default (DEFAULT_TOC_LIMITS). */
export interface TocLimits {
  /** Entries of one TOC (chunk entries included). Default 1 Mi (1,048,576). */
  maxEntries: number;
  /** Uncompressed bytes of one chunk. Default 64 MiB (the writer's default chunk is 4 MiB). */
  maxChunkSize: number;
  /** Uncompressed bytes a reader decodes from one member to cut a chunk out of it (innerOffset + chunk size). Default 128 MiB. */
  maxMemberBytes: number;
  /** Uncompressed bytes of all regular files of one layer. Default 1 TiB. */
  maxLayerBytes: number;
}

/** Bounds on all the lazily mounted layers of one image together. */
export interface ImageLimits {
  /** Entries of all TOCs. Default 4 Mi. */
  maxEntries: number;
  /** Uncompressed bytes of all regular files. Default 4 TiB. */
  maxBytes: number;
}

export const DEFAULT_TOC_LIMITS: Readonly<TocLimits> = Object.freeze({
  maxEntries: 1 << 20,
  maxChunkSize: 64 << 20,
  maxMemberBytes: 128 << 20,
  maxLayerBytes: 2 ** 40,
});

export const DEFAULT_IMAGE_LIMITS: Readonly<ImageLimits> = Object.freeze({ maxEntries: 4 << 20, maxBytes: 2 ** 42 });

/** What a checked TOC declares. */
export interface TocSummary {
  entries: number;
  /** Uncompressed bytes of its regular files. */
  regBytes: number;
}

/**
 * Check a parsed TOC whose payload members end at `dataEnd` (the TOC's own offset): names do not climb
 * above the root, every chunk follows its file, lies inside it and inside the blob's data, the chunks of a
 * file cover it exactly, and nothing is over `limits`. Throws InvalidArgument or LimitExceeded.
 */
export function checkToc(entries: readonly TOCEntry[], dataEnd: number, limits: Partial<TocLimits> = {}): TocSummary {
  const l = { ...DEFAULT_TOC_LIMITS, ...limits };
  if (entries.length > l.maxEntries) throw limitExceeded(`TOC has ${entries.length} entries, over the limit of ${l.maxEntries}`);
  const files = new FileChunks(l);
  const memberOffsets: number[] = [];
  let regBytes = 0;
  for (const [i, e] of entries.entries()) {
    if (e.type !== 'chunk') {
      files.end();
      cleanEntryName(e.name);
      if (e.type === 'hardlink') cleanEntryName(e.linkName ?? '');
    }
    if (e.type === 'reg') {
      regBytes += e.size ?? 0;
      if (regBytes > l.maxLayerBytes) throw limitExceeded(`TOC declares over ${l.maxLayerBytes} bytes of files (limit per layer), at entry ${i} ("${e.name}")`);
      files.start(e);
    }
    if (e.type === 'reg' || e.type === 'chunk') {
      files.add(e, i, dataEnd);
      if (e.type === 'chunk' || (e.size ?? 0) > 0) memberOffsets.push(e.offset ?? 0);
    }
  }
  files.end();
  checkMemberSpans(memberOffsets, dataEnd, l.maxMemberBytes);
  return { entries: entries.length, regBytes };
}

/**
 * A member spans from its offset to the next member's (or to the TOC): a reader fetches it whole, so one
 * spanning more compressed bytes than the member bound is refused (deflate and zstd never grow data by more
 * than a few per mille, so a legitimate member is well inside it).
 */
function checkMemberSpans(offsets: number[], dataEnd: number, max: number): void {
  const sorted = Float64Array.from(offsets).sort();
  for (let i = 0; i < sorted.length; i++) {
    const start = sorted[i] as number;
    if (i > 0 && sorted[i - 1] === start) continue; // several chunks in one member (min-chunk-size)
    let next = i + 1;
    while (next < sorted.length && sorted[next] === start) next++;
    const end = next < sorted.length ? (sorted[next] as number) : dataEnd;
    if (end - start > max) throw limitExceeded(`TOC member at offset ${start} spans ${end - start} compressed bytes, over the limit of ${max}`);
  }
}

/** The chunks of the regular file being checked, until its next non-chunk entry. */
class FileChunks {
  private file: TOCEntry | undefined;
  private chunks: { offset: number; size: number }[] = [];

  constructor(private readonly limits: TocLimits) {}

  start(file: TOCEntry): void {
    this.file = file;
    this.chunks = [];
  }

  add(e: TOCEntry, i: number, dataEnd: number): void {
    const file = this.file;
    if (!file) throw invalidArgument(`corrupted TOC: chunk entry ${i} follows no regular file`);
    if (e.type === 'chunk' && e.name !== file.name) throw invalidArgument(`corrupted TOC: chunk entry ${i} ("${e.name}") does not follow its file ("${file.name}")`);
    const size = file.size ?? 0;
    if (e.type === 'reg' && size === 0) return;
    const bad = (what: string) => invalidArgument(`corrupted TOC: entry ${i} ("${file.name}"): ${what}`);
    const chunkOffset = e.chunkOffset ?? 0;
    const chunkSize = e.chunkSize || size - chunkOffset;
    const offset = e.offset ?? 0;
    if (chunkSize <= 0 || chunkOffset + chunkSize > size) throw bad(`chunk ${chunkOffset}+${chunkSize} outside file size ${size}`);
    if (offset >= dataEnd) throw bad(`offset ${offset} outside the blob's data (TOC at ${dataEnd})`);
    if (chunkSize > this.limits.maxChunkSize) {
      throw limitExceeded(`TOC entry ${i} ("${file.name}") declares a chunk of ${chunkSize} bytes, over the limit of ${this.limits.maxChunkSize}`);
    }
    if ((e.innerOffset ?? 0) + chunkSize > this.limits.maxMemberBytes) {
      throw limitExceeded(`TOC entry ${i} ("${file.name}") needs ${(e.innerOffset ?? 0) + chunkSize} bytes of its member decoded, over the limit of ${this.limits.maxMemberBytes}`);
    }
    this.chunks.push({ offset: chunkOffset, size: chunkSize });
  }

  /** Check that the chunks seen cover the file exactly, once. */
  end(): void {
    const file = this.file;
    if (!file) return;
    this.file = undefined;
    const want = file.size ?? 0;
    if (want === 0) return;
    const sorted = this.chunks.sort((a, b) => a.offset - b.offset);
    let pos = 0;
    for (const c of sorted) {
      if (c.offset !== pos) throw invalidArgument(`corrupted TOC: "${file.name}" has a gap or overlap at offset ${pos}`);
      pos += c.size;
    }
    if (pos !== want) throw invalidArgument(`corrupted TOC: chunks of "${file.name}" cover ${pos} of ${want} bytes`);
  }
}
