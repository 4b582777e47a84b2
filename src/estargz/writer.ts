// The eStargz writer core: turns planned tar entries into a blob of independently compressed members
// (one per payload chunk), the TOC as the last tar entry in its own member, and the footer. Pure: the
// source payloads come through a RangeReader, the blob goes to an async sink.
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md
import { createHash, type Hash } from 'node:crypto';
import { CtrError, invalidArgument } from '../errors.js';
import type { RangeReader } from '../content/range-reader.js';
import { paddingFor } from '../tar/header.js';
import { encodeHeader, END_OF_ARCHIVE } from '../tar/writer.js';
import { planEntries, type PlannedEntry, type SourceEntry } from './entry-order.js';
import { buildFooter } from './footer.js';
import { GzipPool } from './gzip-pool.js';
import { TocEntryBuilder } from './toc-entry-builder.js';
import { DEFAULT_TOC_LIMITS } from './toc-limits.js';
import { serializeTOC } from './toc-json.js';
import { DEFAULT_CHUNK_SIZE, TOC_TAR_NAME, type TOC, type TOCEntry } from './toc-types.js';
import { buildZstdFooter, manifestPosition, skippableFrame } from './zstd-chunked-footer.js';

/** Options of buildEStargz. */
export interface BuildEStargzOptions {
  /** Uncompressed bytes per chunk of a large file; 0/undefined = 4 MiB. */
  chunkSize?: number;
  /** Small files share a member until it holds this many uncompressed bytes (innerOffset); 0 = off (default). */
  minChunkSize?: number;
  /** 'gzip' (eStargz, default) or 'zstd' (zstd:chunked). */
  compression?: 'gzip' | 'zstd';
  /** Compression level; default 9 for gzip, 3 for zstd. */
  level?: number;
  /** Paths to put first (optimize's record); empty/undefined = none (`.no.prefetch.landmark` first). */
  prioritizedFiles?: readonly string[];
  /** A pool to compress on (shared across layers); default: a private pool, closed at the end. */
  pool?: GzipPool;
  signal?: AbortSignal;
}

/** Where the blob bytes go, in order. */
export type BlobSink = (chunk: Buffer) => Promise<void>;

/** What buildEStargz produced. */
export interface BuildEStargzResult {
  /** sha256 of the TOC JSON (the toc.digest annotation). */
  tocDigest: string;
  /** sha256 of the whole uncompressed tar (the config's diff_id). */
  diffId: string;
  /** Size of the uncompressed tar (the uncompressed-size annotation). */
  uncompressedSize: number;
  /** sha256 and size of the blob written to the sink. */
  blobDigest: string;
  blobSize: number;
  toc: TOC;
  /** Prioritized paths this layer does not contain. */
  missedPrioritized: string[];
  /** zstd:chunked only: the two manifest annotations' values. */
  zstdChunked?: { manifestChecksum: string; manifestPosition: string };
  /** Where the blob's tail after the last file's data starts: the TOC's gzip member (eStargz), the end-of-archive frame before the TOC's frame (zstd:chunked). The toc.tail-size annotation is blobSize minus it (toc-tail.ts). */
  tocStart: number;
}

/** Build an eStargz (or zstd:chunked) blob from the entries of an uncompressed tar held in `source`. */
export async function buildEStargz(
  entries: Iterable<SourceEntry>,
  source: RangeReader,
  sink: BlobSink,
  opts: BuildEStargzOptions = {},
): Promise<BuildEStargzResult> {
  const compression = opts.compression ?? 'gzip';
  const pool = opts.pool ?? new GzipPool({ codec: compression, level: opts.level });
  if (pool.codec !== compression) throw invalidArgument(`compression pool is ${pool.codec}, layer wants ${compression}`);
  try {
    const plan = planEntries(entries, opts.prioritizedFiles ?? []);
    const w = new MemberWriter(pool, sink, opts);
    for (const e of plan.entries) await w.add(e, source);
    const tail = await w.finish();
    return { ...tail, missedPrioritized: plan.missedPrioritized };
  } finally {
    if (!opts.pool) await pool.close();
  }
}

interface PendingMember {
  index: number;
  /** Uncompressed bytes (what the member holds in memory while it is compressed). */
  size: number;
  compressed: Promise<Buffer>;
}

/**
 * Uncompressed bytes of members queued for compression beyond the first: with the default 4 MiB chunks the
 * pool's parallelism is the bound (2 compressing, 1 waiting); with large chunks this one, so that memory
 * stays a few times the chunk size (64 MiB chunks: 473 MiB peak RSS instead of 799, measured on a 512 MiB
 * layer). Members over 32 MiB are then compressed one at a time: large chunks trade parallelism for memory.
 */
const QUEUE_BYTES = 32 << 20;

// Accumulates member plaintext, hands closed members to the pool and writes them out in order,
// recording each member's compressed offset for the TOC.
class MemberWriter {
  private readonly chunkSize: number;
  private readonly minChunkSize: number;
  private readonly builder = new TocEntryBuilder();
  private readonly toc: TOC = { version: 1, entries: [] };
  private readonly memberOf = new Map<TOCEntry, number>();
  private readonly memberOffsets: number[] = [];
  private readonly diff: Hash = createHash('sha256');
  private readonly blob: Hash = createHash('sha256');
  private readonly queue: PendingMember[] = [];
  private parts: Buffer[] = [];
  private partsLen = 0;
  /** Index of the open member (members are numbered in blob order). */
  private memberIndex = 0;
  private memberHasPayload = false;
  private uncompressed = 0;
  private written = 0;

  constructor(
    private readonly pool: GzipPool,
    private readonly sink: BlobSink,
    private readonly opts: BuildEStargzOptions,
  ) {
    this.chunkSize = opts.chunkSize || DEFAULT_CHUNK_SIZE;
    this.minChunkSize = opts.minChunkSize ?? 0;
    if (!Number.isSafeInteger(this.chunkSize) || this.chunkSize < 0) throw invalidArgument(`invalid chunk size ${opts.chunkSize}`);
    // Never write what a reader of ours would refuse to mount lazily (toc-limits.ts).
    const max = DEFAULT_TOC_LIMITS.maxChunkSize;
    if (this.chunkSize > max || this.minChunkSize > max) throw invalidArgument(`chunk size ${Math.max(this.chunkSize, this.minChunkSize)} is over the limit of ${max} bytes`);
  }

  async add(pe: PlannedEntry, source: RangeReader): Promise<void> {
    this.opts.signal?.throwIfAborted();
    const h = pe.header;
    const ent = this.builder.entryFor(h);
    this.append(encodeHeader(h));
    if (h.type !== 'file' || h.size === 0) {
      if (h.type === 'file') ent.digest = EMPTY_DIGEST;
      this.toc.entries.push(ent);
      return;
    }
    // A file of one chunk has digest == chunkDigest: hash it once.
    const fileHash = h.size > this.chunkSize ? createHash('sha256') : undefined;
    const landmark = 'data' in pe;
    let cur = ent;
    for (let done = 0; done < h.size; ) {
      const n = Math.min(this.chunkSize, h.size - done);
      if (n === this.chunkSize) cur.chunkSize = n;
      cur.chunkOffset = done;
      await this.startChunk(cur, landmark);
      const data = 'data' in pe ? pe.data.subarray(done, done + n) : await source.readAt(pe.dataOffset + done, n, this.opts);
      if (data.length !== n) throw invalidArgument(`source tar ends inside "${h.name}" (${done + data.length} of ${h.size} bytes)`);
      fileHash?.update(data);
      cur.chunkDigest = sha256(data);
      this.append(data);
      this.toc.entries.push(cur);
      done += n;
      cur = { name: h.name, type: 'chunk' };
    }
    ent.digest = fileHash ? `sha256:${fileHash.digest('hex')}` : ent.chunkDigest;
    const pad = paddingFor(h.size);
    if (pad) this.append(Buffer.alloc(pad));
  }

  // A chunk starts a new member, unless min-chunk-size lets it join the open member (at innerOffset)
  // because that member already starts with a payload and holds fewer than minChunkSize bytes.
  private async startChunk(e: TOCEntry, landmark: boolean): Promise<void> {
    if (this.minChunkSize > 0 && !landmark && this.memberHasPayload && this.partsLen < this.minChunkSize) {
      e.innerOffset = this.partsLen;
    } else {
      await this.closeMember();
      this.memberHasPayload = true;
    }
    this.memberOf.set(e, this.memberIndex);
  }

  private append(b: Buffer): void {
    if (b.length === 0) return;
    this.diff.update(b);
    this.uncompressed += b.length;
    this.parts.push(b);
    this.partsLen += b.length;
  }

  // Send the open member to the pool (when it holds bytes) and open the next one.
  private async closeMember(): Promise<void> {
    this.memberHasPayload = false;
    if (this.partsLen === 0) return;
    // A concatenation is ours alone: move it to the worker. A single part may be the caller's bytes: copy.
    const single = this.parts.length === 1;
    const plain = single ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partsLen);
    this.queue.push({ index: this.memberIndex, size: plain.length, compressed: this.pool.compress(plain, !single) });
    this.parts = [];
    this.partsLen = 0;
    this.memberIndex++;
    // Bounded memory: one member waiting beyond the ones being compressed, and no more than QUEUE_BYTES queued.
    while (this.queue.length > this.pool.parallelism + 1 || (this.queue.length > 1 && this.queuedBytes() > QUEUE_BYTES)) await this.flushOne();
  }

  private queuedBytes(): number {
    return this.queue.reduce((n, m) => n + m.size, 0);
  }

  private async flushOne(): Promise<void> {
    const m = this.queue.shift();
    if (!m) return;
    const out = await m.compressed;
    this.memberOffsets[m.index] = this.written;
    await this.write(out);
  }

  private async write(b: Buffer): Promise<void> {
    this.blob.update(b);
    this.written += b.length;
    await this.sink(b);
  }

  async finish(): Promise<Omit<BuildEStargzResult, 'missedPrioritized'>> {
    await this.closeMember();
    while (this.queue.length) await this.flushOne();
    for (const [e, i] of this.memberOf) {
      const off = this.memberOffsets[i];
      if (off === undefined) throw new CtrError('Internal', `eStargz writer: member ${i} of "${e.name}" was never written`);
      e.offset = off;
    }
    const json = serializeTOC(this.toc);
    const tocDigest = sha256(json);
    const tocStart = this.written;
    const zstdChunked = this.pool.codec === 'gzip' ? await this.gzipTail(json) : await this.zstdTail(json);
    return {
      tocStart,
      tocDigest,
      diffId: `sha256:${this.diff.digest('hex')}`,
      uncompressedSize: this.uncompressed,
      blobDigest: `sha256:${this.blob.digest('hex')}`,
      blobSize: this.written,
      toc: this.toc,
      ...(zstdChunked ? { zstdChunked } : {}),
    };
  }

  // TOC tar entry + end of archive in one gzip member, then the footer.
  private async gzipTail(json: Buffer): Promise<undefined> {
    const tocOffset = this.written;
    const header = encodeHeader({ name: TOC_TAR_NAME, type: 'file', mode: 0o644, uid: 0, gid: 0, size: json.length, mtime: 0 });
    const plain = Buffer.concat([header, json, Buffer.alloc(paddingFor(json.length)), END_OF_ARCHIVE]);
    this.diff.update(plain);
    this.uncompressed += plain.length;
    await this.write(await this.pool.compress(plain));
    await this.write(buildFooter(tocOffset));
    return undefined;
  }

  // End of archive in its own frame (so plain tar readers see a complete archive), then the TOC JSON in a
  // skippable frame and the footer frame.
  private async zstdTail(json: Buffer): Promise<{ manifestChecksum: string; manifestPosition: string }> {
    this.diff.update(END_OF_ARCHIVE);
    this.uncompressed += END_OF_ARCHIVE.length;
    await this.write(await this.pool.compress(Buffer.from(END_OF_ARCHIVE)));
    const compressedToc = await this.pool.compress(json);
    const pos = { offset: this.written + 8, compressedLength: compressedToc.length, uncompressedLength: json.length };
    await this.write(skippableFrame(compressedToc));
    await this.write(buildZstdFooter(pos));
    return { manifestChecksum: sha256(compressedToc), manifestPosition: manifestPosition(pos) };
  }
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const EMPTY_DIGEST = sha256(new Uint8Array(0));
