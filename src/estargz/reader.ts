// Open an eStargz blob through a RangeReader: footer → TOC (verified against its digest, checked against the
// limits) → the TOC index (built once, on first use: rpull needs none) → verified chunk reads through the
// one decode path (member-decoder.ts) that also serves FUSE reads. Pure: the only I/O is the RangeReader.
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md
import { createHash } from 'node:crypto';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { digestMismatch, invalidArgument, limitExceeded, notFound, withContext, CtrError } from '../errors.js';
import { compactView } from '../content/compact-view.js';
import type { RangeReader } from '../content/range-reader.js';
import { parseTarBuffer } from '../tar/reader.js';
import { FOOTER_SIZE, locateFooter } from './footer.js';
import { decodeMember, pickChunk, type ChunkResult } from './member-decoder.js';
import { DEFAULT_MAX_TOC_SIZE, parseTOC } from './toc-json.js';
import { TOC_TAR_NAME, type TOC, type TOCEntry } from './toc-types.js';
import { TocIndex } from './toc-index.js';
import { checkToc, type TocLimits, type TocSummary } from './toc-limits.js';
import { TocFile, type Chunk, type Member, type TocDir, type TocNode } from './toc-node.js';
import { parseZstdFooter, ZSTD_FOOTER_FRAME_SIZE, ZSTD_FOOTER_SIZE } from './zstd-chunked-footer.js';
import { decompressUpTo } from './zstd-frame.js';

const gunzipAsync = promisify(gunzip);

/** Options of openEStargz. */
export interface OpenEStargzOptions {
  /** Expected TOC digest (the layer's toc.digest annotation); a mismatch throws DigestMismatch. Default: not checked. */
  tocDigest?: string;
  /** Largest TOC accepted, compressed and uncompressed. Default 64 MiB. */
  maxTocSize?: number;
  /** Blob flavour: 'gzip' (eStargz), 'zstd' (zstd:chunked) or 'auto' (default: by footer). */
  format?: 'gzip' | 'zstd' | 'auto';
  /** Bounds on what the TOC may declare. Default DEFAULT_TOC_LIMITS (toc-limits.ts). */
  limits?: Partial<TocLimits>;
  /**
   * Told the TOC's JSON bytes once they have matched `tocDigest` (when one is given), before they are parsed
   * (the parse and the checks take tens of ms for a root filesystem's TOC); opening waits for what it returns.
   */
  onTocJson?: (json: Buffer) => Promise<void> | void;
  signal?: AbortSignal;
}

/** An opened eStargz blob. */
export class EStargzReader {
  /** The index, once built; until then the parsed TOC it is built from. */
  private built: TocIndex | undefined;
  private parsed: TOC | undefined;

  private constructor(
    private readonly r: RangeReader,
    parsed: TOC,
    /** sha256 of the raw TOC JSON. */
    readonly tocDigest: string,
    /** Compressed offset of the TOC member. */
    readonly tocOffset: number,
    /** Size of the footer the blob ends with (51, or 47 for legacy stargz, 48 for zstd:chunked). */
    readonly footerSize: number,
    /** Where the payload members end (the TOC member's offset; for zstd, before its skippable frame header). */
    readonly dataEnd: number,
    /** 'gzip' for eStargz, 'zstd' for zstd:chunked. */
    readonly format: 'gzip' | 'zstd',
    /** The raw TOC JSON bytes, as stored (their sha256 is tocDigest). */
    readonly tocJson: Buffer,
    /** What the checked TOC declares (entries, file bytes). */
    readonly summary: TocSummary,
  ) {
    this.parsed = parsed;
  }

  /** Open a blob: read the footer, fetch, parse and check the TOC; see OpenEStargzOptions. */
  static async open(r: RangeReader, opts: OpenEStargzOptions = {}): Promise<EStargzReader> {
    const max = opts.maxTocSize ?? DEFAULT_MAX_TOC_SIZE;
    const tailLen = Math.min(r.size, Math.max(FOOTER_SIZE, ZSTD_FOOTER_FRAME_SIZE));
    const tail = await r.readAt(r.size - tailLen, tailLen, { signal: opts.signal });
    const format = opts.format === 'auto' || !opts.format ? (isZstdChunkedTail(tail) ? 'zstd' : 'gzip') : opts.format;
    const loc = format === 'gzip' ? gzipTocLocation(tail, r.size) : zstdTocLocation(tail);
    if (loc.end > r.size - loc.footerSize || loc.start >= loc.end) {
      throw invalidArgument(`${format === 'gzip' ? 'eStargz' : 'zstd:chunked'} footer points outside the blob: TOC at ${loc.start}..${loc.end}, blob size ${r.size}`);
    }
    if (loc.end - loc.start > max) throw limitExceeded(`compressed TOC is ${loc.end - loc.start} bytes, over the ${max}-byte limit`);
    const member = await r.readAt(loc.start, loc.end - loc.start, { signal: opts.signal });
    const json = format === 'gzip' ? await extractTocJson(member, max) : extractZstdToc(member, max);
    const tocDigest = `sha256:${createHash('sha256').update(json).digest('hex')}`;
    if (opts.tocDigest !== undefined && opts.tocDigest !== tocDigest) {
      throw digestMismatch(`TOC digest is ${tocDigest}, want ${opts.tocDigest}`);
    }
    await opts.onTocJson?.(json);
    const toc = parseTOC(json, { maxSize: max });
    const dataEnd = format === 'gzip' ? loc.start : loc.start - 8;
    const summary = checkToc(toc.entries, dataEnd, opts.limits);
    return new EStargzReader(r, toc, tocDigest, loc.start, loc.footerSize, dataEnd, format, json, summary);
  }

  /**
   * The TOC's index (toc-index.ts), built on first use; InvalidArgument when the one rule of names refuses
   * the TOC's tree. The parsed TOC is not kept once the index is built.
   */
  get index(): TocIndex {
    if (!this.built) {
      this.built = TocIndex.build(this.toc.entries, this.dataEnd);
      this.parsed = undefined;
    }
    return this.built;
  }

  /** The parsed TOC, names as stored (parsed again from tocJson when asked for after the index was built). */
  get toc(): TOC {
    return this.parsed ?? parseTOC(this.tocJson, { maxSize: this.tocJson.length });
  }

  /** Size of the blob. */
  get size(): number {
    return this.r.size;
  }

  /** The node at `path` (cleaned; "" is the root), following no symlinks; a hardlink is its target's node. */
  lookup(path: string): TocNode | undefined {
    return this.index.lookup(path);
  }

  /** Entries of directory `dir` by name (hardlinks are their targets' nodes). */
  children(dir: string): ReadonlyMap<string, TocNode> {
    return this.index.children(dir);
  }

  /** Fetch, decode and verify one chunk (member-decoder.ts: DigestMismatch, or Unsupported without a digest). */
  async readChunk(c: Chunk, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    return pickChunk(c, await this.decode(c.member, opts.signal));
  }

  /** Read `length` bytes at `offset` of a regular file through verified chunks (short at end of file). */
  async readFile(node: TocNode, offset: number, length: number, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    if (!(node instanceof TocFile)) throw invalidArgument(`"${node.path}" is not a regular file`);
    const end = Math.min(node.size, offset + length);
    if (end <= offset) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    let decoded: { member: Member; results: ChunkResult[] } | undefined;
    let pos = offset;
    for (const c of this.index.chunksIn(node, offset, end - offset)) {
      if (c.fileOffset > pos) break;
      if (decoded?.member !== c.member) decoded = { member: c.member, results: await this.decode(c.member, opts.signal) };
      const to = Math.min(end, c.fileOffset + c.size);
      parts.push(pickChunk(c, decoded.results).subarray(pos - c.fileOffset, to - c.fileOffset));
      pos = to;
    }
    if (pos < end) throw notFound(`"${node.path}": no chunk covers offset ${pos}`);
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** Fetch one member and decode it (every chunk verified, one policy for every reader). */
  private async decode(m: Member, signal?: AbortSignal): Promise<ChunkResult[]> {
    const bytes = await this.r.readAt(m.offset, m.end - m.offset, { signal });
    if (bytes.length !== m.end - m.offset) throw invalidArgument(`member at offset ${m.offset}: blob ends inside it`);
    return decodeMember(m, bytes, this.format, { ...(signal ? { signal } : {}) });
  }
}

/** Open an eStargz blob (see EStargzReader.open). */
export function openEStargz(r: RangeReader, opts: OpenEStargzOptions = {}): Promise<EStargzReader> {
  return EStargzReader.open(r, opts).catch((e: unknown) => {
    throw e instanceof CtrError ? e : withContext({ op: 'open eStargz' }, e);
  });
}

interface TocLocation {
  start: number;
  end: number;
  footerSize: number;
}

function gzipTocLocation(tail: Buffer, size: number): TocLocation {
  const { tocOffset, footerSize } = locateFooter(tail);
  return { start: tocOffset, end: size - footerSize, footerSize };
}

function isZstdChunkedTail(tail: Buffer): boolean {
  return tail.length >= ZSTD_FOOTER_SIZE && tail.subarray(tail.length - 8).toString('latin1') === 'GnUlInUx';
}

function zstdTocLocation(tail: Buffer): TocLocation {
  if (tail.length < ZSTD_FOOTER_SIZE) throw invalidArgument(`blob of ${tail.length} bytes is smaller than a zstd:chunked footer`);
  const pos = parseZstdFooter(tail.subarray(tail.length - ZSTD_FOOTER_SIZE));
  return { start: pos.offset, end: pos.offset + pos.compressedLength, footerSize: ZSTD_FOOTER_FRAME_SIZE };
}

function extractZstdToc(frame: Buffer, max: number): Buffer {
  let json: Buffer;
  try {
    json = decompressUpTo(frame, max + 1);
  } catch (e) {
    throw invalidArgument(`malformed zstd:chunked TOC: ${(e as Error).message}`, e);
  }
  if (json.length > max) throw limitExceeded(`uncompressed TOC is over the ${max}-byte limit`);
  return json;
}

/** Gunzip the TOC member and return the JSON bytes of its first tar entry, which must be stargz.index.json. */
async function extractTocJson(member: Buffer, max: number): Promise<Buffer> {
  let tar: Buffer;
  try {
    // in 1 MiB pieces, not zlib's 16 KiB: a root filesystem's TOC is a few MB of JSON
    tar = await gunzipAsync(member, { maxOutputLength: max + (1 << 20), chunkSize: 1 << 20 });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw limitExceeded(`uncompressed TOC is over the ${max}-byte limit`, e);
    }
    throw invalidArgument(`malformed TOC gzip member: ${(e as Error).message}`, e);
  }
  const entries = parseTarBuffer(tar);
  const first = entries[0];
  if (!first) throw invalidArgument('TOC member holds no tar entry');
  if (first.header.name !== TOC_TAR_NAME) {
    throw invalidArgument(`TOC tar entry is named ${JSON.stringify(first.header.name)}, want ${JSON.stringify(TOC_TAR_NAME)}`);
  }
  // a small TOC is a view of zlib's 1 MiB output piece: kept with its reader, it would keep the whole piece
  return compactView(first.data);
}

export type { TOCEntry };
export type { TocDir, TocFile, TocNode };
