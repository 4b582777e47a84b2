// A lazily fetched eStargz layer: file reads become chunk reads (the chunks and members of the layer's TOC
// index, estargz/toc-index.ts); a chunk comes from the shared cache or is fetched (missing members merged
// into few multi-range requests, identical concurrent fetches shared), decoded and verified against its
// chunkDigest by the one decode path of every reader (estargz/member-decoder.ts), cached and sliced. At
// open, the prefetch region [0, offset of .prefetch.landmark) is fetched in one range; then the rest of the
// blob is fetched in the background whenever no foreground read has run for `idleMs` (image-wide, after
// every layer's prefetch, when the layers share a BackgroundGate). See docs/ESTARGZ.md.

import { setTimeout as sleep } from 'node:timers/promises';
import { CtrError, invalidArgument, isCtrError, unavailable, withContext } from '../errors.js';
import { decodeMember, neededBytes, pickChunk, type ChunkResult, type MemberCompression } from '../estargz/member-decoder.js';
import type { TocIndex } from '../estargz/toc-index.js';
import type { Chunk, Member, TocFile } from '../estargz/toc-node.js';
import type { ChunkSource, SignalSource } from '../estargz/chunk-source.js';
import type { BackgroundGate } from './background-gate.js';
import type { BlobSource } from '../content/blob-source.js';
import type { ChunkCache } from './chunk-cache.js';
import { MemberStream } from '../estargz/member-stream.js';
import { batchRanges, planRanges, type PlannedRange, type PlanOptions } from './fetch-planner.js';
import { FETCH_BUDGET_BYTES, processBudgets, type LayerBudgets } from './layer-budgets.js';
import { emptyLayerState, LayerStateFile, type LayerState } from './layer-state.js';
import { SharedFlights, raceSignal } from './shared-flights.js';
import { SpanCutter } from './span-cutter.js';
import { emptyHistogram, observe } from '../stats/latency-histogram.js';

/** Options of LazyLayer.open. */
export interface LazyLayerOptions {
  /** Digest of the compressed blob (for messages and the state file). */
  layerDigest: string;
  /** Where compressed bytes come from. */
  blob: BlobSource;
  /** The index of the verified TOC (EStargzReader.index): chunks, members in blob order, the prefetch landmark. */
  index: TocIndex;
  /** The shared chunk cache. */
  cache: ChunkCache;
  /** Member compression. Default 'gzip'. */
  compression?: MemberCompression;
  /** Where to write the layer's LayerState JSON. Default: no state file. */
  stateFile?: string;
  /** Fetch the landmark region at open. Default true (nothing happens without `.prefetch.landmark`). */
  prefetch?: boolean;
  /** Fetch the rest of the blob in the background. Default true. */
  backgroundFetch?: boolean;
  /** Serve chunks without checking their digests (and never cache them). Default false. */
  skipContentVerify?: boolean;
  /** Merging of foreground ranges. Defaults of fetch-planner.ts (64 KiB gap, 16 MiB range). */
  plan?: PlanOptions;
  /** Ranges per multi-range request. Default 32. */
  maxRangesPerRequest?: number;
  /** Bytes per request (foreground). Default 32 MiB. */
  maxRequestBytes?: number;
  /** Compressed bytes per background request. Default 4 MiB. */
  backgroundBatchBytes?: number;
  /** Quiet time after the last foreground read before background work resumes. Default 50 ms. */
  idleMs?: number;
  /**
   * The image's shared background gate (see background-gate.ts): when set, background fetch waits for every
   * layer's prefetch and for image-wide quiet (the gate's idleMs) instead of this layer's own. Default: none.
   */
  gate?: BackgroundGate;
  /** Compressed bytes of following members fetched along with a foreground miss. Default 64 KiB; 0 = off. */
  readAheadBytes?: number;
  /** Uncompressed bytes of following cached members loaded into memory after each read. Default 1 MiB; 0 = off. */
  cacheReadAheadBytes?: number;
  /** Memory bounds shared with other layers (layer-budgets.ts). Default: the process's. */
  budgets?: LayerBudgets;
}

/** Default read-ahead after a foreground miss: 64 KiB of the members that follow it. */
export const DEFAULT_READ_AHEAD = 64 << 10;

/** Default cache read-ahead: 1 MiB of the chunks that follow each read (see LazyLayer.warmAhead). */
export const DEFAULT_CACHE_READ_AHEAD = 1 << 20;

/**
 * A range of several members at least this long is fetched as a stream, each member served as it
 * completes (at 100 Mbit/s 256 KiB take 20 ms, about one round trip: below that, waiting costs little).
 */
export const STREAM_MIN_BYTES = 256 << 10;

/** A layer whose file contents are fetched on demand; a ChunkSource for the TOC filesystem. */
export class LazyLayer implements ChunkSource {
  private readonly flights = new SharedFlights<number, ChunkResult[]>();
  private readonly budgets: LayerBudgets;
  private readonly state: LayerState;
  private readonly stateFile: LayerStateFile | undefined;
  private readonly closing = new AbortController();
  private foreground = 0;
  /** Member indexes [from, to] of the last cache read-ahead window (see warmAhead). */
  private warmed = { from: 0, to: -1 };
  private lastForeground = 0;
  private prefetchTask: Promise<void> = Promise.resolve();
  /**
   * Members the background fetch is decoding straight into the chunk cache (streamToDisk), by offset: a read
   * that needs one waits for it and then reads the cache.
   */
  private readonly toDisk = new SharedFlights<number, void>();
  /**
   * Offsets of the members a background fetch that cannot stream (zstd, a source without streamRange) is
   * fetching: their chunks go to the disk cache only. Nothing is waiting to read them, and 4 MiB batches
   * through the memory LRU would keep it full (16 MiB) for the whole background fetch; a reader that joins
   * such a fetch gets its bytes from the fetch itself.
   */
  private readonly diskOnly = new Set<number>();
  private backgroundTask: Promise<void> = Promise.resolve();

  /** The layer's TOC index (shared with its FUSE view). */
  readonly index: TocIndex;

  private constructor(private readonly options: LazyLayerOptions) {
    this.index = options.index;
    this.budgets = options.budgets ?? processBudgets();
    this.state = emptyLayerState(options.layerDigest, options.blob.size);
    this.stateFile = options.stateFile ? new LayerStateFile(options.stateFile, () => this.stats()) : undefined;
  }

  /** Start prefetch and background fetch (not awaited; see `prefetched()`). */
  static open(options: LazyLayerOptions): LazyLayer {
    const layer = new LazyLayer(options);
    layer.prefetchTask = layer.runPrefetch();
    options.gate?.addPrefetch(layer.prefetchTask);
    if (options.backgroundFetch ?? true) layer.backgroundTask = layer.runBackground();
    return layer;
  }

  /** Resolves when the prefetch has finished (successfully or not). */
  prefetched(): Promise<void> {
    return this.prefetchTask;
  }

  /** Resolves when the background fetch has finished, failed, or was stopped. */
  backgroundDone(): Promise<void> {
    return this.backgroundTask;
  }

  /** A snapshot of the counters. */
  stats(): LayerState {
    return structuredClone(this.state);
  }

  /** Read `length` bytes of `file` at `offset` (fewer at its end), fetching missing chunks. */
  async readFileRange(file: TocFile, offset: number, length: number, signalSource?: SignalSource): Promise<Buffer> {
    const end = Math.min(offset + length, file.size);
    if (end <= offset) return Buffer.alloc(0);
    this.foreground++;
    this.options.gate?.enter();
    try {
      const chunks = this.index.chunksIn(file, offset, end - offset);
      // Chunks already in the memory cache cost nothing more: such a read (most cached reads) takes no budget,
      // and needs no abort signal (nothing to wait for)
      const held = chunks.reduce((n, c) => (c.digest && this.options.cache.inMemory(c.digest) ? n : n + c.size), 0);
      const signal = typeof signalSource === 'function' ? (held === 0 ? undefined : signalSource()) : signalSource;
      const serve = async (): Promise<Buffer> => {
        const datas = await this.chunkData(chunks, signal);
        this.warmAhead(chunks);
        const out = assemble(chunks, datas, offset, end);
        if (out.length !== end - offset) throw invalidArgument(`the TOC's chunks cover ${out.length} of ${end - offset} bytes`);
        return out;
      };
      return held === 0 ? await serve() : await this.budgets.reads.run(serve, held);
    } catch (e) {
      throw withContext({ op: 'read', subject: `${file.path} at ${offset} of layer ${this.options.layerDigest}` }, e);
    } finally {
      this.foreground--;
      this.lastForeground = Date.now();
      this.options.gate?.leave();
    }
  }

  /** Stop background work and write the state file a last time. */
  async close(): Promise<void> {
    this.closing.abort(new CtrError('Aborted', `layer ${this.options.layerDigest} closed`));
    await Promise.allSettled([this.prefetchTask, this.backgroundTask]);
    await this.stateFile?.close();
  }

  /**
   * Start loading the cached chunks of the members after the last one just read into memory, so that the
   * reads that usually follow (the rest of a big file, the next files of a directory) find them there instead
   * of waiting for a disk read each: the chunk cache's counterpart of the kernel's readahead.
   */
  private warmAhead(chunks: readonly Chunk[]): void {
    const last = chunks[chunks.length - 1];
    const bytes = this.options.cacheReadAheadBytes ?? DEFAULT_CACHE_READ_AHEAD;
    if (!last || bytes <= 0 || this.options.skipContentVerify) return;
    const i = last.member.seq;
    const w = this.warmed;
    if (i >= w.from && i < w.to - (w.to - w.from) / 2) return; // well inside the window warmed last time
    const ahead = this.index.membersAhead(last.member, bytes);
    for (const m of ahead) {
      for (const c of m.chunks) if (c.digest) this.options.cache.warm(c.digest);
    }
    this.warmed = { from: i, to: i + ahead.length };
  }

  /** Bytes of each chunk, from the cache or fetched (all missing members in one planning round). */
  private async chunkData(chunks: readonly Chunk[], signal?: AbortSignal): Promise<Buffer[]> {
    const cached = await Promise.all(chunks.map((c) => this.fromCache(c, signal)));
    const missing = chunks.filter((_, i) => !cached[i]);
    if (missing.length === 0) return cached as Buffer[];
    const storing = uniqueMembers(missing).flatMap((m) => this.toDisk.get(m.offset) ?? []);
    if (storing.length > 0) {
      // the background fetch is storing them: once it has, they are read from the cache (and what it could
      // not store is fetched as any other miss)
      await raceSignal(Promise.allSettled(storing), signal);
      return this.chunkData(chunks, signal);
    }
    const wanted = uniqueMembers(missing);
    const started = performance.now();
    const flights = this.ensure([...wanted, ...this.readAhead(wanted)], this.options.plan, undefined, false);
    const results = await raceSignal(Promise.all(missing.map((c) => flights.get(c.member)!)), signal);
    observe((this.state.onDemandLatency ??= emptyHistogram()), (performance.now() - started) / 1000);
    let next = 0;
    return chunks.map((c, i) => cached[i] ?? pickChunk(c, results[next++]!));
  }

  /**
   * Members right after the last missing one, fetched in the same range: files stored next to each other
   * are usually read together (a directory, a package), and one slightly longer range is cheaper than the
   * round trips the next reads would need. Like the reference's fetch granularity (50 KB regions).
   */
  private readAhead(wanted: readonly Member[]): Member[] {
    const bytes = this.options.readAheadBytes ?? DEFAULT_READ_AHEAD;
    const last = wanted.reduce<Member | undefined>((a, m) => (!a || m.offset > a.offset ? m : a), undefined);
    if (!last || bytes <= 0) return [];
    const after = this.index.membersAfter(last, bytes);
    const end = after.findIndex((m) => this.isCached(m) || this.flights.has(m.offset) || this.toDisk.has(m.offset) || !m.chunks.every((c) => c.digest));
    return end < 0 ? after : after.slice(0, end);
  }

  private async fromCache(chunk: Chunk, signal?: AbortSignal): Promise<Buffer | undefined> {
    if (!chunk.digest || this.options.skipContentVerify) return undefined;
    const data = await this.options.cache.get(chunk.digest, signal);
    if (data) this.bump('cacheHits', 1);
    return data;
  }

  /**
   * Start (or join) the fetch of each member; returns each member's flight. A `budgeted` fetch (prefetch,
   * background) waits for room in the process's fetch budget and keeps it until its members are decoded
   * (views of its body, or copies of it when streamed, until each is decoded); a foreground fetch does not
   * wait: it serves reads, whose chunk bytes the read budget already bounds, and must not queue behind a
   * large prefetch.
   */
  private ensure(members: readonly Member[], plan: PlanOptions | undefined, maxBytes: number | undefined, budgeted: boolean): Map<Member, Promise<ChunkResult[]>> {
    const toFetch = members.filter((m) => !this.flights.has(m.offset));
    const perRequest = Math.min(maxBytes ?? this.options.maxRequestBytes ?? 32 << 20, FETCH_BUDGET_BYTES);
    const ranges = planRanges(toFetch, { ...plan, maxRangeBytes: Math.min(plan?.maxRangeBytes ?? perRequest, perRequest) });
    for (const batch of batchRanges(ranges, this.options.maxRangesPerRequest ?? 32, perRequest)) {
      const results = new Map(batch.flatMap((r) => r.spans).map((m) => [m, deferred<ChunkResult[]>()]));
      for (const [m, d] of results) this.flights.track(m.offset, d.promise);
      const work = () => this.fetchAndDecode(batch, results);
      const bytes = batch.reduce((n, r) => n + r.length, 0);
      (budgeted ? this.budgets.fetches.run(work, bytes) : work()).catch((e: unknown) => {
        for (const d of results.values()) d.reject(e); // a bug: the flights fail (EIO) rather than hang
      });
    }
    return new Map(members.map((m) => [m, this.flights.get(m.offset)!]));
  }

  /** Fetch one request's ranges and decode each member in them, settling every member's flight. */
  private async fetchAndDecode(batch: readonly PlannedRange<Member>[], results: Map<Member, Deferred<ChunkResult[]>>): Promise<void> {
    const only = batch.length === 1 ? batch[0] : undefined;
    if (only && only.spans.length > 1 && only.length >= STREAM_MIN_BYTES && this.options.blob.streamRange) return this.streamAndDecode(only, results);
    let bufs: Buffer[];
    try {
      bufs = await this.fetchBatch(batch);
    } catch (e) {
      for (const d of results.values()) d.reject(e);
      return;
    }
    await Promise.all(batch.flatMap((range, i) => range.spans.map(async (m) => {
      const d = results.get(m)!;
      try {
        const buf = bufs[i];
        if (!buf) throw unavailable(`layer ${this.options.layerDigest}: the blob source returned no bytes for range ${i}`);
        const body = buf.subarray(m.offset - range.offset, m.end - range.offset);
        d.resolve(await this.budgets.decodes.run(() => this.processMember(m, body), neededBytes(m)));
        results.delete(m); // its decoded chunks are its readers' now, not the batch's
      } catch (e) {
        d.reject(e);
      }
    })));
  }

  /**
   * Fetch one range of several members as a stream, decoding each member as soon as its last byte has come
   * (a prefetch of megabytes serves the files at its start long before its end arrives); a failure midway
   * fails only the members not yet complete. Each member's bytes are copied into a buffer of its own as they
   * come, so a member's compressed bytes are let go once it is decoded, not when the whole range is (a 37 MB
   * prefetch region was held whole until its last member was decoded).
   */
  private async streamAndDecode(range: PlannedRange<Member>, results: Map<Member, Deferred<ChunkResult[]>>): Promise<void> {
    const spans = range.spans as readonly Member[]; // in blob order (fetch-planner.ts)
    const cutter = new SpanCutter(spans, range.offset, range.offset + range.length);
    let body: Buffer | undefined; // the bytes of the member being filled
    let filled = 0;
    const decodes: Promise<void>[] = [];
    const take = (bytes: Buffer) => {
      for (const { span: m, piece, first, last } of cutter.cut(bytes)) {
        if (first) {
          body = Buffer.allocUnsafe(m.end - m.offset);
          filled = 0;
        }
        filled += piece.copy(body!, filled);
        if (last) {
          const d = results.get(m)!;
          const whole = body!;
          results.delete(m); // a resolved deferred keeps its chunks alive: a prefetch of megabytes held them all to its end
          decodes.push(this.budgets.decodes.run(() => this.processMember(m, whole), neededBytes(m)).then(d.resolve, d.reject));
          body = undefined;
        }
      }
    };
    const err = await this.streamRange(range, cutter, take);
    if (err) for (const d of results.values()) d.reject(err); // the members not yet complete
    await Promise.all(decodes);
  }

  /** Whether the background fetch decodes members straight into the chunk cache (streamToDisk). */
  private streamsToDisk(): boolean {
    return this.options.blob.streamRange !== undefined && (this.options.compression ?? 'gzip') === 'gzip' && !this.options.skipContentVerify;
  }

  /**
   * Fetch one range of the background fetch as a stream and decode each member into the chunk cache as its
   * bytes come (estargz/member-stream.ts): each chunk is hashed on the way to a temp file and renamed into
   * the cache only once it matched its digest. A batch then holds a few network and zlib pieces, where
   * fetching it whole held its compressed and its decoded bytes (two 4 MiB batches in flight were the
   * largest part of the fuse manager's peak). A read that needs one of these members waits for it and reads
   * the cache (chunkData).
   */
  private async streamToDisk(range: PlannedRange<Member>): Promise<void> {
    const spans = range.spans;
    const stored = new Map(spans.map((m) => [m, deferred<void>()]));
    for (const [m, d] of stored) this.toDisk.track(m.offset, d.promise);
    const cutter = new SpanCutter(spans, range.offset, range.offset + range.length);
    const cache = this.options.cache;
    let current: MemberStream | undefined;
    const take = async (bytes: Buffer) => {
      for (const { span: m, piece, first, last } of cutter.cut(bytes)) {
        if (first) current = new MemberStream(m, (c) => (cache.has(c.digest!) ? undefined : cache.writer(c.digest!)));
        const stream = current!;
        await stream.push(piece);
        if (!last) continue;
        current = undefined;
        for (const o of await stream.end()) {
          if (o.ok) this.bump('chunksFetched', 1);
          else this.recordError(o.error);
        }
        this.budgets.garbage.letGo(m.end - m.offset);
        stored.get(m)!.resolve();
      }
    };
    const err = await this.streamRange(range, cutter, take);
    if (!err) return;
    await current?.abort(err);
    for (const d of stored.values()) d.reject(err); // no-op for those already stored
  }

  /**
   * Stream `range` into `take` through `cutter`; the error that fails the members not yet complete, if the
   * stream failed or ended short (a failed take fails it too; no take runs once this returns).
   */
  private async streamRange(range: PlannedRange<Member>, cutter: SpanCutter<Member>, take: (bytes: Buffer) => void | Promise<void>): Promise<CtrError | undefined> {
    let taking: void | Promise<void> = undefined;
    this.bump('requests', 1);
    try {
      await this.options.blob.streamRange!({ offset: range.offset, length: range.length }, (bytes) => (taking = take(bytes)), { signal: this.closing.signal });
      if (cutter.position < range.offset + range.length) throw unavailable(`layer ${this.options.layerDigest}: the blob source returned ${cutter.position - range.offset} of ${range.length} bytes`);
      if (this.state.authError) delete this.state.authError;
      return undefined;
    } catch (e) {
      await Promise.resolve(taking).catch(() => undefined);
      if (isCtrError(e, 'Aborted')) return e;
      if (e instanceof Error && e.name === 'AbortError') return new CtrError('Aborted', `layer ${this.options.layerDigest}: ${e.message}`, { cause: e });
      return this.fetchFailed(e, 1);
    } finally {
      this.bump('bytesFetched', cutter.position - range.offset);
    }
  }

  private async fetchBatch(batch: readonly { offset: number; length: number }[]): Promise<Buffer[]> {
    const ranges = batch.map((r) => ({ offset: r.offset, length: r.length }));
    this.bump('requests', 1);
    try {
      const bufs = await this.options.blob.readRanges(ranges, { signal: this.closing.signal });
      this.bump('bytesFetched', bufs.reduce((n, b) => n + b.length, 0));
      if (this.state.authError) delete this.state.authError; // the registry serves us again
      return bufs;
    } catch (e) {
      if (isCtrError(e, 'Aborted') || (e instanceof Error && e.name === 'AbortError')) throw e;
      throw this.fetchFailed(e, ranges.length);
    }
  }

  /** Record a failed fetch of `ranges` ranges; the error readers get (any fetch failure is EIO for them, whatever the registry said). */
  private fetchFailed(e: unknown, ranges: number): CtrError {
    const err = unavailable(`layer ${this.options.layerDigest}: fetching ${ranges} range(s) failed: ${e instanceof Error ? e.message : String(e)}`, e);
    this.recordError(err);
    if (isCtrError(e, 'Unauthorized') && !this.closing.signal.aborted) this.state.authError = { ...this.state.lastError!, message: e.message };
    return err;
  }

  /** Decode and verify one member's bytes; cache the good chunks, count the bad ones. */
  private async processMember(member: Member, compressed: Buffer): Promise<ChunkResult[]> {
    // a closing layer does not decode and write what only the background fetch wanted (a batch of small files
    // is hundreds of chunk files: `run --rm` would wait for them before it exits)
    if (this.closing.signal.aborted && this.diskOnly.has(member.offset)) throw this.closing.signal.reason;
    const want = member.end - member.offset;
    if (compressed.length !== want) {
      const err = unavailable(`layer ${this.options.layerDigest}: got ${compressed.length} of ${want} bytes at offset ${member.offset}`);
      this.recordError(err);
      throw err;
    }
    const results = await decodeMember(member, compressed, this.options.compression ?? 'gzip', { skipVerify: this.options.skipContentVerify ?? false });
    for (const r of results) {
      if ('error' in r) {
        this.recordError(r.error);
        continue;
      }
      this.bump('chunksFetched', 1);
      if (r.chunk.digest && !this.options.skipContentVerify) {
        const memory = !this.diskOnly.has(member.offset);
        await this.options.cache.put(r.chunk.digest, r.data, { memory }).catch((e: unknown) => this.recordError(e));
      }
    }
    this.budgets.garbage.letGo(want + neededBytes(member));
    return results;
  }

  private async runPrefetch(): Promise<void> {
    const limit = this.index.prefetchEnd;
    if (limit === undefined || this.options.prefetch === false) return;
    const members = this.index.membersBelow(limit).filter((m) => !this.isCached(m));
    this.state.prefetch.phase = 'running';
    const started = performance.now();
    const everything = { maxGap: Number.POSITIVE_INFINITY, maxRangeBytes: Number.POSITIVE_INFINITY };
    this.options.gate?.enter();
    let ok: boolean;
    try {
      ok = await allSucceeded(this.ensure(members, everything, Number.POSITIVE_INFINITY, true).values());
    } finally {
      this.options.gate?.leave();
    }
    this.state.prefetch.bytes = members.reduce((n, m) => n + m.end - m.offset, 0);
    this.state.prefetch.seconds = (performance.now() - started) / 1000;
    this.state.prefetch.phase = ok ? 'done' : 'failed';
    this.stateFile?.markDirty();
  }

  private async runBackground(): Promise<void> {
    const bg = this.state.background;
    const members = this.index.members.filter((m) => m.chunks.some((c) => c.digest));
    const plainBytes = members.reduce((n, m) => n + m.chunks.reduce((k, c) => k + c.size, 0), 0);
    if (plainBytes > this.options.cache.stats().maxBytes / 2) return; // it would only evict itself
    bg.phase = 'pending';
    bg.membersTotal = members.length;
    const batchBytes = this.options.backgroundBatchBytes ?? 4 << 20;
    try {
      await (this.options.gate ? this.options.gate.prefetchesDone(this.closing.signal) : this.prefetchTask);
      bg.phase = 'running';
      for (let i = 0; i < members.length; ) {
        await this.waitIdle();
        const batch: Member[] = [];
        for (let bytes = 0; i < members.length && (batch.length === 0 || bytes < batchBytes); i++) {
          const m = members[i]!;
          if (!this.backgroundWants(m)) continue;
          batch.push(m);
          bytes += m.end - m.offset;
        }
        if (batch.length > 0) await this.budgets.background.run(async () => {
          const todo = batch.filter((m) => this.backgroundWants(m)); // a read may have taken some while this waited
          if (this.streamsToDisk()) {
            await Promise.all(planRanges(todo, { maxGap: batchBytes, maxRangeBytes: batchBytes }).map((r) => this.streamToDisk(r)));
            return;
          }
          for (const m of todo) this.diskOnly.add(m.offset);
          await allSucceeded(this.ensure(todo, { maxGap: batchBytes, maxRangeBytes: batchBytes }, batchBytes, true).values());
          for (const m of todo) this.diskOnly.delete(m.offset);
        }, 0, this.closing.signal);
        bg.membersDone = i;
        this.stateFile?.markDirty();
      }
      bg.phase = 'done';
    } catch (e) {
      bg.phase = this.closing.signal.aborted ? 'pending' : 'failed';
      if (!this.closing.signal.aborted) this.recordError(e);
    }
    this.stateFile?.markDirty();
  }

  /** Wait until no foreground read has run for `idleMs`, image-wide with a gate (rejects when the layer closes). */
  private async waitIdle(): Promise<void> {
    if (this.options.gate) return this.options.gate.waitIdle(this.closing.signal);
    const idle = this.options.idleMs ?? 50;
    for (;;) {
      this.closing.signal.throwIfAborted();
      const quiet = Date.now() - this.lastForeground;
      if (this.foreground === 0 && quiet >= idle) return;
      await sleep(Math.max(1, idle - quiet), undefined, { signal: this.closing.signal });
    }
  }

  /**
   * Whether the background fetch should fetch `member`: not cached and not being fetched already. A member a
   * foreground read is fetching must not be marked disk-only: that read's chunks belong in the memory LRU.
   */
  private backgroundWants(member: Member): boolean {
    return !this.isCached(member) && !this.flights.has(member.offset) && !this.toDisk.has(member.offset);
  }

  private isCached(member: Member): boolean {
    return member.chunks.every((c) => c.digest !== undefined && this.options.cache.has(c.digest));
  }

  private bump(key: 'bytesFetched' | 'requests' | 'chunksFetched' | 'cacheHits', n: number): void {
    this.state[key] += n;
    this.stateFile?.markDirty();
  }

  private recordError(e: unknown): void {
    if (this.closing.signal.aborted) return;
    this.state.errors++;
    if (e instanceof CtrError && e.code === 'DigestMismatch') this.state.digestMismatches++;
    this.state.lastError = { time: new Date().toISOString(), message: e instanceof Error ? e.message : String(e) };
    this.stateFile?.markDirty();
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Whether every flight succeeded, without keeping what they resolved to: Promise.allSettled would hold every
 * member's decoded chunks until the last one (a 35 MB prefetch region grew the fuse manager by ~90 MiB).
 */
function allSucceeded(flights: Iterable<Promise<unknown>>): Promise<boolean> {
  return Promise.all([...flights].map((p) => p.then(() => true, () => false))).then((oks) => oks.every(Boolean));
}

function uniqueMembers(chunks: readonly Chunk[]): Member[] {
  return [...new Set(chunks.map((c) => c.member))];
}

/** Concatenate the parts of `chunks` (file order) that fall in [offset, end). */
function assemble(chunks: readonly Chunk[], datas: readonly Buffer[], offset: number, end: number): Buffer {
  const parts = chunks.map((c, i) => {
    const from = Math.max(offset, c.fileOffset) - c.fileOffset;
    const to = Math.min(end, c.fileOffset + c.size) - c.fileOffset;
    return datas[i]!.subarray(from, to);
  });
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
