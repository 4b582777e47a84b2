// Open an eStargz blob through a RangeReader: footer → TOC (verified against its digest) → path index,
// chunk lookup and verified chunk reads. Pure: the only I/O is the RangeReader.
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md
import { createHash } from 'node:crypto';
import { chunkError } from './chunk-verify.js';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { digestMismatch, invalidArgument, limitExceeded, notFound, withContext, CtrError } from '../errors.js';
import type { RangeReader } from '../content/range-reader.js';
import { parseTarBuffer } from '../tar/reader.js';
import { FOOTER_SIZE, locateFooter } from './footer.js';
import { DEFAULT_MAX_TOC_SIZE, parseTOC } from './toc-json.js';
import { TOC_TAR_NAME, type TOC, type TOCEntry } from './toc-types.js';
import { EntryIndex, type EStargzEntry } from './entry-index.js';
import { checkToc, DEFAULT_TOC_LIMITS, type TocLimits, type TocSummary } from './toc-limits.js';
import { inflatePrefix } from './member-inflate.js';
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
  signal?: AbortSignal;
}

/** One chunk of a regular file: where its bytes live in the blob and how to verify them. */
export interface ChunkRef {
  /** The reg or chunk TOC entry describing this chunk. */
  entry: EStargzEntry;
  /** Offset of the chunk within the file. */
  chunkOffset: number;
  /** Uncompressed size of the chunk. */
  chunkSize: number;
  /** Compressed offset of the member holding the chunk. */
  offset: number;
  /** Compressed offset where that member ends (the next member or the TOC). */
  memberEnd: number;
  /** Uncompressed offset of the chunk inside its member (min-chunk-size layers). */
  innerOffset: number;
  /** sha256 that the chunk's bytes must have; undefined when the TOC carries none. */
  digest: string | undefined;
}

/** An opened eStargz blob. */
export class EStargzReader {
  /** The path index, built on first use (a mount needs only the entries). */
  private indexCache: EntryIndex | undefined;

  private constructor(
    private readonly r: RangeReader,
    /** The parsed TOC (names as stored; see lookup for cleaned names). */
    readonly toc: TOC,
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
    /** What the checked TOC declares (entries, file bytes) and the member bound reads are held to. */
    readonly summary: TocSummary & { maxMemberBytes: number },
  ) {}

  /** Open a blob: read the footer, fetch and parse the TOC; see OpenEStargzOptions. */
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
    const toc = parseTOC(json, { maxSize: max });
    const dataEnd = format === 'gzip' ? loc.start : loc.start - 8;
    const summary = { ...checkToc(toc.entries, dataEnd, opts.limits), maxMemberBytes: opts.limits?.maxMemberBytes ?? DEFAULT_TOC_LIMITS.maxMemberBytes };
    return new EStargzReader(r, toc, tocDigest, loc.start, loc.footerSize, dataEnd, format, json, summary);
  }

  private get index(): EntryIndex {
    this.indexCache ??= new EntryIndex(this.toc, this.dataEnd);
    return this.indexCache;
  }

  /** Size of the blob. */
  get size(): number {
    return this.r.size;
  }

  /** The entry at `path` (cleaned; "" is the root), following hardlinks to their target. */
  lookup(path: string): EStargzEntry | undefined {
    return this.index.lookup(path);
  }

  /** Entries of directory `dir` by base name (hardlinks resolved to their targets). */
  children(dir: string): ReadonlyMap<string, EStargzEntry> {
    return this.index.children(dir);
  }

  /** Follow a hardlink entry to the entry it names; other entries are returned as they are. */
  resolveHardlink(e: EStargzEntry): EStargzEntry {
    return this.index.resolveHardlink(e);
  }

  /** Chunks of a regular file in file order (one for files up to the chunk size; none when empty). */
  chunks(e: EStargzEntry): readonly ChunkRef[] {
    return this.index.chunks(this.resolveHardlink(e));
  }

  /** The chunk holding byte `fileOffset` of a regular file, or undefined past the end. */
  chunkAt(e: EStargzEntry, fileOffset: number): ChunkRef | undefined {
    const cs = this.chunks(e);
    let lo = 0;
    let hi = cs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const c = cs[mid] as ChunkRef;
      if (fileOffset < c.chunkOffset) hi = mid - 1;
      else if (fileOffset >= c.chunkOffset + c.chunkSize) lo = mid + 1;
      else return c;
    }
    return undefined;
  }

  /** Fetch, decompress and verify one chunk; DigestMismatch when its bytes do not match chunkDigest. */
  async readChunk(c: ChunkRef, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const what = `chunk ${c.chunkOffset}+${c.chunkSize} of "${c.entry.name}"`;
    const span = c.memberEnd - c.offset;
    if (span > this.summary.maxMemberBytes) throw limitExceeded(`${what}: its member spans ${span} compressed bytes, over the limit of ${this.summary.maxMemberBytes}`);
    const member = await this.r.readAt(c.offset, span, opts);
    if (member.length !== c.memberEnd - c.offset) throw invalidArgument(`${what}: blob ends inside its member`);
    const need = c.innerOffset + c.chunkSize;
    const data = this.format === 'gzip' ? await inflatePrefix(member, need, what, opts.signal) : zstdPrefix(member, need, what);
    const out = data.subarray(c.innerOffset);
    this.verifyChunk(c, out);
    return out;
  }

  /** Check chunk bytes against the TOC (chunk-verify.ts); throws DigestMismatch, or Unsupported when the TOC has no digest. */
  verifyChunk(c: ChunkRef, data: Uint8Array): void {
    const err = chunkError(data, c.chunkSize, c.digest, `chunk ${c.chunkOffset}+${c.chunkSize} of "${c.entry.name}"`);
    if (err) throw err;
  }

  /** Read `length` bytes at `offset` of a regular file through verified chunks (short at end of file). */
  async readFile(e: EStargzEntry, offset: number, length: number, opts: { signal?: AbortSignal } = {}): Promise<Buffer> {
    const f = this.resolveHardlink(e);
    if (f.type !== 'reg') throw invalidArgument(`"${f.name}" is not a regular file`);
    const end = Math.min(f.size ?? 0, offset + length);
    const parts: Buffer[] = [];
    for (let pos = offset; pos < end; ) {
      const c = this.chunkAt(f, pos);
      if (!c) throw notFound(`"${f.name}": no chunk covers offset ${pos}`);
      const data = await this.readChunk(c, opts);
      const from = pos - c.chunkOffset;
      const to = Math.min(c.chunkSize, end - c.chunkOffset);
      parts.push(data.subarray(from, to));
      pos = c.chunkOffset + to;
    }
    return Buffer.concat(parts);
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

function zstdPrefix(member: Buffer, need: number, what: string): Buffer {
  let out: Buffer;
  try {
    out = decompressUpTo(member, need);
  } catch (e) {
    throw invalidArgument(`${what}: bad zstd data: ${(e as Error).message}`, e);
  }
  if (out.length < need) throw invalidArgument(`${what}: zstd frame ends after ${out.length} of ${need} bytes`);
  return out.subarray(0, need);
}

/** Gunzip the TOC member and return the JSON bytes of its first tar entry, which must be stargz.index.json. */
async function extractTocJson(member: Buffer, max: number): Promise<Buffer> {
  let tar: Buffer;
  try {
    tar = await gunzipAsync(member, { maxOutputLength: max + (1 << 20) });
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
  return first.data;
}

export type { EStargzEntry } from './entry-index.js';
export type { TOCEntry };
