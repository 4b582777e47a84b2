// The lazy layer service: serves lazily fetched layers as FUSE mounts (a TOC filesystem over a lazy layer
// that fetches from the registry through the shared chunk cache). It is the stargz snapshotter's
// RemoteLayers port, and what `run` and `image mount` serve their lazy layers with. In the CLI it lives in
// the command's process (its mounts end with it); the snapshotter service will keep one resident.
// A layer is checked once (footer and TOC fetched by Range, verified against its toc.digest, its tail kept:
// toc-fetch.ts); a mount opens the TOC again from the kept tail, without a request.
import { mkdir, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { BlobSource } from '../content/blob-source.js';
import { EARLY_WINDOW_BYTES, EarlyRange } from '../content/early-range.js';
import { afterIoTurn } from '../host/io-turn.js';
import { prefetchSpan, prefetchSpanGuess, spanCovers, type PrefetchSpan } from '../estargz/prefetch-span.js';
import { errorAbout, failedPrecondition, limitExceeded, unsupported, withContext } from '../errors.js';
import { openEStargz, type EStargzReader } from '../estargz/reader.js';
import { DEFAULT_IMAGE_LIMITS } from '../estargz/toc-limits.js';
import { mergeHistograms, type LatencyHistogram } from '../stats/latency-histogram.js';
import { buildInodeTable } from '../fs/inode-table.js';
import { TocFileSystem } from '../fs/toc-filesystem.js';
import { mountFuse, type FuseMount } from '../fuse/mount.js';
import { unmountSync } from '../fuse/unmount.js';
import { BackgroundGate } from '../layer/background-gate.js';
import { ChunkCache, type ChunkCacheStats } from '../layer/chunk-cache.js';
import { readLayerState, type LayerState } from '../layer/layer-state.js';
import { LazyLayer } from '../layer/lazy-layer.js';
import { TaskLimit } from '../layer/task-limit.js';
import { lazyRegistryOptions, type CredentialSource } from '../remote/credential-source.js';
import { registryBlobSource } from '../remote/registry-blob-source.js';
import { openRegistry, openRegistryWithHosts, type RegistryEndpoint, type RegistryOptions } from '../remote/registry-endpoint.js';
import type { RegistryAccess, RemoteLayerRef } from '../snapshot/remote-labels.js';
import type { RemoteLayers } from '../snapshot/stargz-snapshotter.js';
import { openLayerTail } from '../store/layer-tails.js';
import type { RootLayout } from '../store/root-layout.js';
import { CheckedLayers, closeStarted } from './checked-layers.js';
import { fetchLayerToc, WARM_TAIL_GUESS, type FetchedToc } from './toc-fetch.js';

/** A gate for a lazy layer started alone: sealed, so its background fetch waits only for its own prefetch and quiet. */
function sealedGate(): BackgroundGate {
  const g = new BackgroundGate();
  g.seal();
  return g;
}

/** Most TOC fetches started ahead at once (an image has at most a few hundred layers). */
const MAX_WARMING = 256;

/** How long a layer's TOC (and the prefetch region it requested) fetched ahead of its check waits for it. */
const KEEP_WARM_MS = 60_000;

/** A layer's TOC fetched ahead of its check, and the prefetch region requested from it. */
interface Warmed {
  fetched: FetchedToc;
  early?: EarlyRange;
  /** A check has taken them (its lazy layer releases the early range). */
  taken: boolean;
  /** Lets them go when no check has taken them within KEEP_WARM_MS. */
  timer: NodeJS.Timeout;
}

/**
 * How long the kernel may cache names, attributes and absent names of a lazy layer: 1 hour. A layer is
 * immutable (its TOC is verified against the manifest), so nothing the kernel caches can go stale; the bound
 * only limits how long an unused dentry pins memory.
 */
export const LAYER_CACHE_TIMEOUT_MS = 60 * 60 * 1000;

/** Options of a LayerService; every field has a default. */
export interface LayerServiceOptions {
  /** The tool's root: its chunk cache, the saved TOC tails and the layers' last states. */
  paths: RootLayout;
  /** Registry flags (`--plain-http`, `-u`, ...). Default none. */
  registry?: RegistryOptions;
  /** Where the image's credentials were taken from at rpull (read again). Default: the flags alone. */
  credentials?: CredentialSource;
  /** `--no-background-fetch`: fetch only what is read (and the prefetch region). Default false. */
  noBackgroundFetch?: boolean;
  /** `--cache-max-bytes` of the shared chunk cache. Default: ChunkCache's (min(10 GiB, half the free disk)). */
  cacheMaxBytes?: number;
  /** Serve chunks without verifying them (and accept unverified TOCs). Default false. */
  skipContentVerify?: boolean;
  /** Compressed bytes read ahead after a miss (LazyLayerOptions.readAheadBytes). Default 64 KiB. */
  readAheadBytes?: number;
  /** Credentials kept per repository (the CRI keychain), used when the options give none. Default none. */
  keychain?: { lookup(ref: string): Promise<{ username: string; password: string } | undefined> };
  /** containerd's hosts directory (`<dir>/<registry>/hosts.toml`): mirrors serve the reads first. Default none. */
  hostsDir?: string;
  /** Refuse (in check) a layer whose reference gives no TOC digest to verify against. Default false. */
  requireTocDigest?: boolean;
  /**
   * A resident service: one background gate for every layer served, which lets background fetch run only
   * once nothing (a mount, a prefetch, a read of any layer) has happened for this long, so that it never
   * shares the link with a container starting. Default: a gate per mount call, quiet after 50 ms (the CLI).
   */
  backgroundQuietMs?: number;
  /**
   * Start a layer's lazy layer (its prefetch) as soon as its check has verified the TOC, for the mount that
   * follows to take (the resident service, which mounts every layer it checks). Default false.
   */
  startOnCheck?: boolean;
  /** One-line warnings (a registry refusing reads for lack of credentials, once per registry). */
  onWarning?: (line: string) => void;
}

/** A layer service's numbers for metrics (what the fuse manager reports over its socket). */
export interface LayerServiceReport {
  layers: LayerState[];
  cache?: ChunkCacheStats;
  /** Latency of FUSE requests over every served layer, by operation. */
  fuseLatency: Record<string, LatencyHistogram>;
  /** Resident set size of the serving process, bytes. */
  rss: number;
}

/** A layer to serve at `dir`, with what the CLI's callers may add. */
export interface ServeItem {
  dir: string;
  layer: RemoteLayerRef;
  /** Where the layer's live state file goes. Default `<root>/lazy/state/<layer hex>.json`. */
  stateFile?: string;
  /** Access recorder: the first open of each file of this layer. Default none. */
  onAccess?: (path: string) => void;
  /**
   * The layer's prefetch region as rpull recorded it: requested as soon as the mount starts, before the TOC
   * is parsed again (content/early-range.ts), unless this root has prefetched the layer before or the early
   * ranges would hold more than EARLY_RANGE_MAX_BYTES. Default none: the prefetch starts once the TOC is parsed.
   */
  prefetch?: PrefetchSpan;
}

/**
 * The bytes that prefetch regions requested before their TOCs are parsed may hold, all layers together (they
 * are held in memory until the prefetch has taken them, outside the fetch budget): each holds at most
 * EARLY_WINDOW_BYTES however large its region (its request waits beyond), so four are requested at once; a
 * region that does not fit is left to the layer's own, budgeted, prefetch.
 */
export const EARLY_RANGE_MAX_BYTES = 32 << 20;

/**
 * The largest prefetch region requested early (the layer's own prefetch takes a larger one, in ranges of its
 * fetch budget). An early range holds at most its window from a registry that honours Range, but one that
 * answers 200 to the whole blob makes the client keep the wanted bytes of the body whole: this bounds that.
 */
export const EARLY_SPAN_MAX_BYTES = 64 << 20;

interface Served {
  fuse: FuseMount;
  lazy: LazyLayer;
  digest: string;
  stateFile: string;
  /** What it counts against the limits of everything served (given back when it goes). */
  summary: { entries: number; regBytes: number };
}

/** Serves lazy layers as FUSE mounts in this process. */
export class LayerService implements RemoteLayers {
  private readonly served = new Map<string, Served>();
  /** TOC fetches started ahead of their checks (and the prefetch regions they requested), by layer digest. */
  private readonly warming = new Map<string, Promise<Warmed>>();
  /** Layers checked and not yet mounted: the mount takes their TOC (and lazy layer) instead of starting again. */
  private readonly checked = new CheckedLayers();
  /** Prefetch regions requested on a hint before their mounts (prefetchEarly), by layer digest. */
  private readonly hinted = new Map<string, { early: Promise<EarlyRange | undefined>; timer: NodeJS.Timeout }>();
  /** Set by close(): no early range is started after it. */
  private closed = false;
  /** Bytes held by early ranges (EARLY_RANGE_MAX_BYTES). */
  private earlyBytes = 0;
  /** TOCs being parsed for a mount: one at a time (see serveWith). */
  private readonly parsing = new TaskLimit(1);
  /** Mounts under way, by dir. */
  private readonly mounting = new Map<string, Promise<void>>();
  private readonly registries = new Map<string, Promise<RegistryEndpoint>>();
  private cache: Promise<ChunkCache> | undefined;
  /** What the served layers declare together (bounded by DEFAULT_IMAGE_LIMITS). */
  private readonly declared = { entries: 0, bytes: 0 };
  private readonly onExit = () => [...this.served.keys()].forEach((dir) => unmountSync(dir));

  /** The gate of every layer served (LayerServiceOptions.backgroundQuietMs), or undefined: a gate per mount call. */
  private readonly residentGate: BackgroundGate | undefined;

  constructor(private readonly options: LayerServiceOptions) {
    process.on('exit', this.onExit);
    if (options.backgroundQuietMs !== undefined) {
      this.residentGate = new BackgroundGate({ idleMs: options.backgroundQuietMs });
      this.residentGate.seal();
    }
  }

  /** Fetch and verify the layer's TOC and keep its tail; the layer with its size. Unsupported when it is not eStargz. */
  async check(layer: RemoteLayerRef, signal?: AbortSignal): Promise<RemoteLayerRef> {
    if (this.options.requireTocDigest && !layer.tocDigest && !this.options.skipContentVerify) {
      throw failedPrecondition(`layer ${layer.digest} has no TOC digest (containerd.io/snapshot/stargz/toc.digest) to verify its TOC against: not an eStargz layer, or its annotation was dropped`);
    }
    const warming = this.warming.get(layer.digest);
    if (warming) {
      this.warming.delete(layer.digest);
      const warmed = await warming.catch(() => undefined);
      const fetched = warmed?.fetched;
      if (warmed && fetched && !('notEStargz' in fetched) && (this.options.skipContentVerify || !layer.tocDigest || fetched.tocDigest === layer.tocDigest)) {
        warmed.taken = true;
        clearTimeout(warmed.timer);
        const out = { ...layer, size: fetched.size, tocDigest: fetched.tocDigest };
        await this.keepChecked(out, fetched.opened, warmed.early);
        return out;
      }
      if (warmed) this.letGoWarmed(layer.digest, warming, warmed);
      // not fetched, not eStargz, or another TOC than the one asked for: check it the usual way below
    }
    // the resident service starts the layer at its check: its prefetch region is requested as soon as the
    // TOC's text is verified, on a guess from that text, while the TOC is parsed, checked and indexed
    let guessed: EarlyRange | undefined;
    const onTocJson = this.options.startOnCheck
      ? async (json: Buffer, size: number) => {
        try {
          guessed = await this.earlyRange({ ...layer, size }, prefetchSpanGuess(json));
        } catch {
          // a speed-up only: never a reason to refuse the layer
        }
      }
      : undefined;
    try {
      const fetched = await fetchLayerToc(this.options.paths, (await this.registry(layer)).repository, layer, {
        ...(this.options.skipContentVerify ? { skipContentVerify: true } : {}),
        ...(layer.tocTail ? { tailGuess: layer.tocTail } : {}),
        ...(onTocJson ? { onTocJson } : {}),
        ...(signal ? { signal } : {}),
      });
      if ('notEStargz' in fetched) throw unsupported(fetched.notEStargz);
      this.noteTailSaved(layer.digest, fetched.tailSaved);
      const out = { ...layer, size: fetched.size, tocDigest: fetched.tocDigest };
      const early = guessed;
      guessed = undefined;
      await this.keepChecked(out, fetched.opened, early);
      return out;
    } finally {
      guessed?.release(); // the check failed: nothing will read it
    }
  }

  /**
   * Start fetching the TOCs of layers that are about to be checked (a Prepare's labels list the image's
   * next layers), all at once, so their checks find them fetched: containerd prepares layers one by one.
   * In the resident service each one's prefetch region is requested as soon as its TOC is in (an upper layer's
   * check comes only after every layer below it has been prepared). Nothing is trusted yet: check compares
   * each with the TOC digest its own Prepare gives, and its bytes are served only through the chunks of the
   * TOC it verified; what no check takes within KEEP_WARM_MS is let go.
   */
  warm(layers: readonly RemoteLayerRef[]): void {
    for (const l of layers) {
      if (this.warming.has(l.digest) || this.warming.size >= MAX_WARMING) continue;
      const p: Promise<Warmed> = this.registry(l).then(async (r) => {
        const fetched = await fetchLayerToc(this.options.paths, r.repository, { digest: l.digest }, { skipContentVerify: true, tailGuess: WARM_TAIL_GUESS });
        let early: EarlyRange | undefined;
        if ('tailSaved' in fetched) {
          this.noteTailSaved(l.digest, fetched.tailSaved);
          // ahead of need: one window of the budget stays for the layer being checked now
          if (this.options.startOnCheck && !this.closed) early = await this.earlyRange({ ...l, size: fetched.size }, prefetchSpan(fetched.opened.toc.entries), EARLY_WINDOW_BYTES).catch(() => undefined);
        }
        const warmed: Warmed = { fetched, ...(early ? { early } : {}), taken: false, timer: setTimeout(() => this.letGoWarmed(l.digest, p, warmed), KEEP_WARM_MS) };
        warmed.timer.unref();
        return warmed;
      });
      p.catch(() => {
        if (this.warming.get(l.digest) === p) this.warming.delete(l.digest);
      });
      this.warming.set(l.digest, p);
    }
  }

  /**
   * Request a layer's prefetch region now, on a hint given before its mount (the CLI's keeper: rpull sends it
   * as soon as the TOC's text is verified, a guess from that text): its mount takes it when the region covers
   * the one the mount names, else lets it go, as it does when no mount comes within KEEP_WARM_MS. The bytes
   * are served only through the chunks of the TOC the mount verifies.
   */
  prefetchEarly(layer: RemoteLayerRef, span: PrefetchSpan): void {
    if (this.closed || this.hinted.has(layer.digest) || this.hinted.size >= MAX_WARMING) return;
    if ([...this.served.values()].some((s) => s.digest === layer.digest)) return;
    const early = this.earlyRange(layer, span).catch(() => undefined);
    const timer = setTimeout(() => void this.takeHinted(layer.digest).then((e) => e?.release()), KEEP_WARM_MS);
    timer.unref();
    this.hinted.set(layer.digest, { early, timer });
  }

  /** The early range requested on a hint for this layer, if any (taken: the caller uses or releases it). */
  private async takeHinted(digest: string): Promise<EarlyRange | undefined> {
    const h = this.hinted.get(digest);
    if (!h) return undefined;
    this.hinted.delete(digest);
    clearTimeout(h.timer);
    return h.early;
  }

  /** Bytes of EARLY_RANGE_MAX_BYTES the early ranges hold now (tests). */
  earlyBytesHeld(): number {
    return this.earlyBytes;
  }

  /** Let go of a TOC fetched ahead, and its early range, unless a check has taken them. */
  private letGoWarmed(digest: string, p: Promise<Warmed>, warmed: Warmed): void {
    clearTimeout(warmed.timer);
    if (this.warming.get(digest) === p) this.warming.delete(digest);
    if (!warmed.taken) warmed.early?.release();
  }

  /** Serve each layer at its dir, all at once (those already served are left as they are); they share one background gate. */
  async mount(items: readonly ServeItem[]): Promise<void> {
    const gate = this.residentGate ?? new BackgroundGate();
    this.residentGate?.enter(); // a mount is activity: containerd is preparing an image
    try {
      // The layers are mounted at once: one layer's mount(8) and prefetch request wait while the next
      // one's TOC is parsed. Every mount has settled (served or failed) before the first failure, in the
      // order of `items`, is thrown, so a caller that then closes the service leaves no mount behind.
      const settled = await Promise.allSettled(items.map((item) => {
        if (this.served.has(item.dir)) return undefined;
        // a mount of the same dir already under way (two callers at once: a restore and a Mounts RPC) is
        // joined, never made twice: a second FUSE mount on top would hide the first from unmount
        let pending = this.mounting.get(item.dir);
        if (!pending) {
          pending = this.serveOne(item, gate).finally(() => this.mounting.delete(item.dir));
          this.mounting.set(item.dir, pending);
        }
        return pending;
      }));
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      if (this.residentGate) this.residentGate.leave();
      else gate.seal(); // every prefetch is registered: background fetch may start once they are done
    }
  }

  async unmount(dir: string, progress?: (dir: string, step: string) => void): Promise<void> {
    await this.mounting.get(dir)?.catch(() => undefined); // a mount under way ends first, then goes
    const s = this.served.get(dir);
    if (!s) return;
    this.served.delete(dir);
    this.undeclare(s.summary);
    await s.fuse.unmount().catch((e: unknown) => progress?.(dir, `unmount failed: ${e instanceof Error ? e.message : String(e)}`));
    progress?.(dir, 'unmounted');
    await s.lazy.close();
    progress?.(dir, 'layer closed');
    await this.keepLastState(s);
  }

  /** Live counters of the served layers. */
  stats(): LayerState[] {
    return [...this.served.values()].map((s) => s.lazy.stats());
  }

  /** What the metrics endpoint shows of this process: the layers' counters, the chunk cache, FUSE latency, memory. */
  async report(): Promise<LayerServiceReport> {
    const by = new Map<string, LatencyHistogram[]>();
    for (const s of this.served.values()) for (const [op, h] of s.fuse.stats.latency) by.set(op, [...(by.get(op) ?? []), h]);
    const fuseLatency = Object.fromEntries([...by].map(([op, list]) => [op, mergeHistograms(list)]));
    const cache = this.cache ? (await this.cache).stats() : undefined;
    return { layers: this.stats(), ...(cache ? { cache } : {}), fuseLatency, rss: process.memoryUsage.rss() };
  }

  /**
   * What changes whenever the layers do anything that holds memory (a chunk read, fetched or written, a layer
   * checked, served or let go); the fuse manager trims its memory once it has stayed the same for a while.
   */
  async activity(): Promise<string> {
    const c = this.cache ? (await this.cache).stats() : undefined;
    return `${c ? c.memoryHits + c.diskHits + c.misses + c.writes : 0} ${this.served.size} ${this.checked.size()} ${this.mounting.size}`;
  }

  /** Drop the chunks the cache holds in memory; returns their bytes. */
  async dropMemory(): Promise<number> {
    return this.cache ? (await this.cache).dropMemory() : 0;
  }

  /** The directories served. */
  servedDirs(): string[] {
    return [...this.served.keys()];
  }

  /** The directories whose mounts are under way. */
  mountingDirs(): string[] {
    return [...this.mounting.keys()];
  }

  /** The lazy layer served at `dir` (prefetch waits, tests). */
  layerAt(dir: string): LazyLayer | undefined {
    return this.served.get(dir)?.lazy;
  }

  /** Stop serving everything and close the registries (`progress` is told of each step, for logs). */
  async close(progress?: (dir: string, step: string) => void): Promise<void> {
    this.closed = true;
    // not awaited: a TOC fetch ahead still under way ends with the registries closed below
    for (const [digest, p] of this.warming) p.then((w) => this.letGoWarmed(digest, p, w), () => undefined);
    this.warming.clear();
    for (const digest of [...this.hinted.keys()]) void this.takeHinted(digest).then((e) => e?.release());
    await this.checked.clear(); // a layer still starting is closed before the registries it reads from
    // mounts under way end first (each is then unmounted below): one finishing after this would stay mounted
    // with no server once the process is gone
    await Promise.allSettled([...this.mounting.values()]);
    await Promise.allSettled([...this.served.keys()].map((dir) => this.unmount(dir, progress)));
    progress?.('', 'registries');
    await Promise.allSettled([...this.registries.values()].map(async (r) => (await r).close()));
    progress?.('', 'closed');
    this.registries.clear();
    process.off('exit', this.onExit);
  }

  private async serveOne(item: ServeItem, gate: BackgroundGate): Promise<void> {
    const early = await this.coveringEarly(item.layer, item.prefetch, await this.takeHinted(item.layer.digest));
    try {
      await this.serveWith(item, gate, early);
    } catch (e) {
      early?.release();
      throw e;
    }
  }

  /**
   * The early range for `span`: `guessed` (requested on a guess from the TOC's text) when it covers `span`,
   * else one requested now (`guessed` let go: it guessed wrong), or undefined when there is no span.
   */
  private async coveringEarly(layer: RemoteLayerRef, span: PrefetchSpan | undefined, guessed: EarlyRange | undefined): Promise<EarlyRange | undefined> {
    if (guessed && span && spanCovers(guessed.range, span)) return guessed;
    guessed?.release();
    return this.earlyRange(layer, span);
  }

  /**
   * Request a layer's prefetch region now (see ServeItem.prefetch), or undefined; resolves once the request
   * has had the turns of the event loop the registry client takes to send it, so that the CPU-bound work its
   * caller goes on with (parsing or indexing a TOC) overlaps the transfer instead of delaying its start.
   * `keepFree`: bytes of EARLY_RANGE_MAX_BYTES this request must leave to others.
   */
  private async earlyRange(layer: RemoteLayerRef, span: PrefetchSpan | undefined, keepFree = 0): Promise<EarlyRange | undefined> {
    const size = layer.size;
    if (!span || size === undefined || span.length > EARLY_SPAN_MAX_BYTES || span.offset + span.length > size) return undefined;
    const last = await readLayerState(this.options.paths.lazyStateOf(layer.digest)).catch(() => undefined);
    if (last?.prefetch?.phase === 'done') return undefined; // its chunks are probably cached: the prefetch will say
    const holds = Math.min(span.length, EARLY_WINDOW_BYTES);
    if (this.earlyBytes + holds > EARLY_RANGE_MAX_BYTES - keepFree) return undefined; // the prefetch fetches it, budgeted
    this.earlyBytes += holds; // taken before anything is awaited: two layers at once never both fit in the last room
    let source: BlobSource;
    try {
      source = await this.blobSource(layer, size);
    } catch (e) {
      this.earlyBytes -= holds;
      throw e;
    }
    const early = new EarlyRange(source, span, () => (this.earlyBytes -= holds));
    await afterIoTurn();
    return early;
  }

  private async serveWith(item: ServeItem, gate: BackgroundGate, early: EarlyRange | undefined): Promise<void> {
    const where = { op: 'lazy layer', subject: item.layer.digest };
    const layer = item.layer.size === undefined ? await this.check(item.layer) : item.layer;
    const size = layer.size as number;
    const want = layer.tocDigest && !this.options.skipContentVerify ? layer.tocDigest : undefined;
    const kept = this.checked.take(layer.digest, want);
    // one TOC parsed and indexed at a time (the layers are mounted at once): a parsed TOC is about twice its
    // index, and it is dropped once the index is built
    const reader = kept?.reader ?? (await this.parsing.run(async () => {
      const r = await this.openFromTail(layer, size, want, where);
      void r.index;
      return r;
    }));
    try {
      this.declare(reader.summary, where);
    } catch (e) {
      await closeStarted(kept?.lazy);
      throw e;
    }
    try {
      await this.serveDeclared(item, layer, reader, kept?.lazy, gate, early, where);
    } catch (e) {
      this.undeclare(reader.summary);
      throw e;
    }
  }

  /** serveWith, once the layer is counted against the limits. */
  private async serveDeclared(item: ServeItem, layer: RemoteLayerRef, reader: EStargzReader, started: Promise<LazyLayer> | undefined, gate: BackgroundGate, early: EarlyRange | undefined, where: { op: string; subject: string }): Promise<void> {
    // started at the check: its index built meanwhile, or the refusal of its tree thrown here
    let lazy = started ? await started.catch((e: unknown) => {
      throw withContext(where, e);
    }) : undefined;
    const index = reader.index;
    const stateFile = item.stateFile ?? this.options.paths.lazyStateOf(layer.digest);
    if (lazy && stateFile !== this.options.paths.lazyStateOf(layer.digest)) {
      await lazy.close(); // started for the service's state file; this caller keeps its own
      lazy = undefined;
    }
    if (!lazy) lazy = await this.openLazy(layer, reader, gate, stateFile, early);
    else early?.release(); // a layer started at its check: its prefetch is under way already
    try {
      const onAccess = item.onAccess;
      const fs = new TocFileSystem(buildInodeTable(index), lazy, { cacheTimeoutMs: LAYER_CACHE_TIMEOUT_MS, ...(onAccess ? { onAccess } : {}) });
      await mkdir(item.dir, { recursive: true });
      const fuse = await mountFuse(item.dir, fs, {
        fsName: `ctr-remote:${layer.digest.slice(7, 19)}`, unmountOnExit: false, negativeTimeoutMs: LAYER_CACHE_TIMEOUT_MS,
        noOpen: !onAccess, // the access recorder needs every OPEN; without it, opens need no round trip
      });
      this.served.set(item.dir, { fuse, lazy, digest: layer.digest, stateFile, summary: reader.summary });
    } catch (e) {
      await lazy.close();
      throw e;
    }
  }

  /**
   * Start serving a layer's chunks (its prefetch and background fetch begin now), reading through `early`
   * when its prefetch region was requested already (released once the prefetch has taken its bytes, or
   * here when the layer cannot start).
   */
  private async openLazy(layer: RemoteLayerRef, reader: EStargzReader, gate: BackgroundGate, stateFile: string, early?: EarlyRange): Promise<LazyLayer> {
    let lazy: LazyLayer;
    try {
      lazy = await this.startLazy(layer, reader, gate, stateFile, early?.source());
    } catch (e) {
      early?.release();
      throw e;
    }
    if (early) lazy.prefetched().then(() => early.release(), () => early.release()); // its bytes are in the prefetch's chunks now
    return lazy;
  }

  private async startLazy(layer: RemoteLayerRef, reader: EStargzReader, gate: BackgroundGate, stateFile: string, blob?: BlobSource): Promise<LazyLayer> {
    const size = layer.size as number;
    return LazyLayer.open({
      layerDigest: layer.digest,
      blob: blob ?? (await this.blobSource(layer, size)),
      index: reader.index,
      compression: reader.format,
      cache: await this.openCache(),
      stateFile,
      backgroundFetch: !this.options.noBackgroundFetch,
      gate,
      skipContentVerify: this.options.skipContentVerify ?? false,
      ...(this.options.readAheadBytes !== undefined ? { readAheadBytes: this.options.readAheadBytes } : {}),
    });
  }

  /**
   * Keep a checked layer's TOC for its mount; in the resident service (startOnCheck), start its lazy layer
   * too, so that its prefetch runs while containerd goes on and the mount is made.
   */
  private async keepChecked(layer: RemoteLayerRef, reader: EStargzReader, guessed?: EarlyRange): Promise<void> {
    if (!this.checked.fits(reader.summary.entries)) {
      guessed?.release();
      return;
    }
    let lazy: Promise<LazyLayer> | undefined;
    if (this.options.startOnCheck) {
      // the prefetch region from the TOC's entries: the request made on a guess from its text if it covers
      // it, else one made now, before the index is built (tens of ms for a root filesystem's TOC)
      const early = await this.coveringEarly(layer, prefetchSpan(reader.toc.entries), guessed);
      // started once the check has answered: building the index (tens of ms for a root filesystem's TOC) is
      // not the check's work. The checks that refuse a layer (its TOC's digest, JSON, entries and limits)
      // are done; what only the index refuses (a tree no writer makes: docs/DECISIONS.md) the mount reports.
      const gate = this.residentGate ?? sealedGate();
      const stateFile = this.options.paths.lazyStateOf(layer.digest);
      lazy = new Promise((resolve) => setImmediate(resolve)).then(() => this.openLazy(layer, reader, gate, stateFile, early));
      lazy.catch(() => undefined); // its mount reports it
    }
    if (!this.checked.put(layer.digest, { reader, ...(lazy ? { lazy } : {}) })) await closeStarted(lazy);
  }

  /** Say so when a layer's tail could not be saved (its mount after a restart then checks it again). */
  private noteTailSaved(digest: string, saved: Promise<void>): void {
    saved.catch((e: unknown) => this.options.onWarning?.(`layer ${digest}: its TOC could not be saved (${e instanceof Error ? e.message : String(e)}); a later mount fetches it again`));
  }

  /** Open the layer's TOC from its saved tail (checking the layer again when no tail is saved). */
  private async openFromTail(layer: RemoteLayerRef, size: number, tocDigest: string | undefined, where: { op: string; subject: string }) {
    let tail = await openLayerTail(this.options.paths, layer.digest, size);
    if (!tail) {
      await this.check(layer);
      const checked = this.checked.take(layer.digest, tocDigest);
      if (checked) {
        await closeStarted(checked.lazy);
        return checked.reader;
      }
      tail = await openLayerTail(this.options.paths, layer.digest, size);
    }
    if (!tail) throw errorAbout('NotFound', where, 'its TOC could not be kept; run image rpull again');
    return openEStargz(tail, { ...(tocDigest ? { tocDigest } : {}) }).catch((e: unknown) => {
      throw withContext(where, e);
    });
  }

  /** Count what a layer declares against the limits of everything served; nothing is counted when it is refused. */
  private declare(summary: { entries: number; regBytes: number }, where: { op: string; subject: string }): void {
    const entries = this.declared.entries + summary.entries;
    const bytes = this.declared.bytes + summary.regBytes;
    const max = DEFAULT_IMAGE_LIMITS;
    const head = `${where.op} ${where.subject}`;
    if (entries > max.maxEntries) throw limitExceeded(`${head}: the lazy layers served declare ${entries} entries, over the limit of ${max.maxEntries} per image`);
    if (bytes > max.maxBytes) throw limitExceeded(`${head}: the lazy layers served declare ${bytes} bytes of files, over the limit of ${max.maxBytes} per image`);
    this.declared.entries = entries;
    this.declared.bytes = bytes;
  }

  /** Give back what a layer that is no longer served (or failed to be) counted. */
  private undeclare(summary: { entries: number; regBytes: number }): void {
    this.declared.entries -= summary.entries;
    this.declared.bytes -= summary.regBytes;
  }

  /** What the layers served declare together (entries, file bytes), as counted against DEFAULT_IMAGE_LIMITS. */
  declaredTotals(): { entries: number; bytes: number } {
    return { ...this.declared };
  }

  /** Move a layer's state file to its last-state place (when it was written elsewhere). */
  private async keepLastState(s: Served): Promise<void> {
    const last = this.options.paths.lazyStateOf(s.digest);
    if (s.stateFile === last) return;
    await mkdir(dirname(last), { recursive: true });
    await rename(s.stateFile, last).catch(() => undefined);
  }

  /** The layer's blob in its registry, for Range reads. */
  private async blobSource(layer: RemoteLayerRef, size: number): Promise<BlobSource> {
    return registryBlobSource((await this.registry(layer)).repository, layer.digest, size, { onWarning: this.options.onWarning, credentials: this.options.credentials });
  }

  /** The endpoint of a layer's reference, one per reference and access options. */
  private registry(layer: Pick<RemoteLayerRef, 'ref' | 'access'>): Promise<RegistryEndpoint> {
    const key = layer.access ? `${layer.ref} ${JSON.stringify(layer.access)}` : layer.ref;
    let r = this.registries.get(key);
    if (!r) {
      r = this.openEndpoint(layer.ref, layer.access);
      this.registries.set(key, r);
      r.catch(() => this.registries.delete(key));
    }
    return r;
  }

  /** The endpoint of `ref`, through the mirrors of its registry's hosts.toml when a hosts directory is set. */
  private async openEndpoint(ref: string, access: RegistryAccess | undefined): Promise<RegistryEndpoint> {
    let base = lazyRegistryOptions(this.options.credentials, access ? { ...this.options.registry, ...access } : this.options.registry);
    const kept = base.username === undefined ? await this.options.keychain?.lookup(ref) : undefined;
    if (kept) base = { ...base, username: kept.username, password: kept.password };
    // the command's --hosts-dir, else the service's resolver.config_path
    const dir = base.hostsDir ?? this.options.hostsDir;
    if (!dir) return openRegistry(ref, base);
    const onMirrorFailure = this.options.onWarning
      ? (host: string, e: unknown) => this.options.onWarning!(`mirror ${host} failed for ${ref}, reading from the next host: ${e instanceof Error ? e.message : String(e)}`)
      : undefined;
    return openRegistryWithHosts(ref, { ...base, hostsDir: dir, ...(onMirrorFailure ? { onMirrorFailure } : {}) });
  }

  private openCache(): Promise<ChunkCache> {
    this.cache ??= ChunkCache.open({
      dir: this.options.paths.cache,
      ...(this.options.cacheMaxBytes !== undefined ? { maxBytes: this.options.cacheMaxBytes } : {}),
    });
    return this.cache;
  }
}
