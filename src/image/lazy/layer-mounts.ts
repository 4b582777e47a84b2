// The layer-mount core shared by `image mount`, `run --snapshotter stargz` and `optimize`: every lazy layer
// of an image becomes its own FUSE mount (TOC filesystem over a lazy layer fetching from the registry
// through the shared chunk cache); every other layer is an unpacked snapshot. The result is the list of
// overlayfs lowerdirs, topmost first. Layout under `layersDir`: `<n>/fs` (mount point), `<n>/state.json`.

import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { errorAbout, limitExceeded, notFound, withContext } from '../../errors.js';
import { openEStargz } from '../../estargz/reader.js';
import { DEFAULT_IMAGE_LIMITS } from '../../estargz/toc-limits.js';
import { buildInodeTable } from '../../fs/inode-table.js';
import { TocFileSystem } from '../../fs/toc-filesystem.js';
import { mountFuse, type FuseMount } from '../../fuse/mount.js';
import { unmountSync } from '../../fuse/unmount.js';
import { BackgroundGate } from '../../layer/background-gate.js';
import { ChunkCache } from '../../layer/chunk-cache.js';
import type { LayerState } from '../../layer/layer-state.js';
import { LazyLayer } from '../../layer/lazy-layer.js';
import type { Descriptor } from '../../oci/types.js';
import { openRegistry, type RegistryEndpoint, type RegistryOptions } from '../../remote/registry-endpoint.js';
import { ensureSnapshot } from './layer-snapshot.js';
import { lazyRegistryOptions } from '../../remote/credential-source.js';
import { openLayerTail, type LazyImageRecord } from './lazy-record.js';
import { lastStateDir, lastStatePath } from './mount-record.js';
import { registryBlobSource } from '../../remote/registry-blob-source.js';

/**
 * How long the kernel may cache names, attributes and absent names of a lazy layer: 1 hour. A layer is
 * immutable (its TOC is verified against the manifest), so nothing the kernel caches can go stale; the bound
 * only limits how long an unused dentry pins memory.
 */
export const LAYER_CACHE_TIMEOUT_MS = 60 * 60 * 1000;

/** Options of mountImageLayers. */
export interface LayerMountsOptions {
  /** Registry flags used to fetch lazy layers. */
  registry?: RegistryOptions;
  /** `--no-background-fetch`: fetch only what is read (and the prefetch region). Default false. */
  noBackgroundFetch?: boolean;
  /** `--cache-max-bytes` for the shared chunk cache. Default: ChunkCache's (min(10 GiB, half the free disk)). */
  cacheMaxBytes?: number;
  /** Serve chunks without verifying them. Default false. */
  skipContentVerify?: boolean;
  /** Compressed bytes read ahead after a miss (LazyLayerOptions.readAheadBytes). Default 64 KiB. */
  readAheadBytes?: number;
  /** Access recorder for optimize: first open of each file, with the index of its layer (0 = base). */
  onAccess?: (path: string, layerIndex: number) => void;
  /** Receives one-line warnings, e.g. the registry refusing lazy reads for lack of credentials (once per registry). */
  onWarning?: (line: string) => void;
  signal?: AbortSignal;
}

/** One layer as mounted. */
export interface MountedLayer {
  index: number;
  digest: string;
  mode: 'lazy' | 'full';
  /** The layer's lowerdir. */
  dir: string;
  /** The lazy layer's state file (lazy only). */
  stateFile?: string;
  /** The lazy layer itself (lazy only), for prefetch waits and live stats. */
  lazy?: LazyLayer;
}

/** The mounted layers of an image. */
export interface MountedLayers {
  layers: MountedLayer[];
  /** Lowerdirs for overlayfs, topmost layer first. */
  lowerdirs: string[];
  /** Live counters of the lazy layers. */
  stats(): LayerState[];
  /** Unmount the FUSE mounts (unmount the overlay above them first), close layers and the registry. */
  unmount(): Promise<void>;
}

/** Mount every layer of an image under `layersDir` (root only); `record` is undefined for fully pulled images. */
export async function mountImageLayers(
  root: string,
  layers: readonly Descriptor[],
  record: LazyImageRecord | undefined,
  layersDir: string,
  options: LayerMountsOptions = {},
): Promise<MountedLayers> {
  const mounter = new LayerMounter(root, record, layersDir, options);
  try {
    for (const [i, layer] of layers.entries()) await mounter.add(i, layer);
    mounter.gate.seal(); // every prefetch is registered: background fetch may start once they are done
  } catch (e) {
    await mounter.unmount();
    throw e;
  }
  return mounter.result();
}

class LayerMounter {
  private readonly mounted: MountedLayer[] = [];
  private readonly fuse: FuseMount[] = [];
  private registry: RegistryEndpoint | undefined;
  private cache: ChunkCache | undefined;
  private readonly onExit = () => this.fuse.forEach((m) => unmountSync(m.dir));
  /** One background-fetch gate for all lazy layers of the image (see layer/background-gate.ts). */
  readonly gate = new BackgroundGate();
  /** What the lazy layers mounted so far declare together (bounded by DEFAULT_IMAGE_LIMITS). */
  private readonly declared = { entries: 0, bytes: 0 };

  constructor(
    private readonly root: string,
    private readonly record: LazyImageRecord | undefined,
    private readonly layersDir: string,
    private readonly options: LayerMountsOptions,
  ) {
    process.on('exit', this.onExit);
  }

  async add(index: number, layer: Descriptor): Promise<void> {
    const rec = this.record?.layers.find((l) => l.digest === layer.digest);
    if (rec?.mode === 'lazy') return this.addLazy(index, layer, rec.tocDigest);
    const dir = await ensureSnapshot(this.root, layer, this.options.signal);
    this.mounted.push({ index, digest: layer.digest, mode: 'full', dir });
  }

  result(): MountedLayers {
    const layers = [...this.mounted];
    return {
      layers,
      lowerdirs: layers.map((l) => l.dir).reverse(),
      stats: () => layers.flatMap((l) => (l.lazy ? [l.lazy.stats()] : [])),
      unmount: () => this.unmount(),
    };
  }

  async unmount(): Promise<void> {
    await Promise.allSettled(this.fuse.map((m) => m.unmount()));
    await Promise.allSettled(this.mounted.map((l) => l.lazy?.close()));
    await keepLastStates(this.root, this.mounted);
    await this.registry?.close();
    process.off('exit', this.onExit);
  }

  private async addLazy(index: number, layer: Descriptor, tocDigest: string | undefined): Promise<void> {
    const where = { op: 'lazy layer', subject: `${index} (${layer.digest})` };
    const tail = await openLayerTail(this.root, layer.digest, layer.size);
    if (!tail) throw errorAbout('NotFound', where, 'its TOC is not in the store; run image rpull again');
    const reader = await openEStargz(tail, { ...(tocDigest ? { tocDigest } : {}) }).catch((e: unknown) => {
      throw withContext(where, e);
    });
    this.declared.entries += reader.summary.entries;
    this.declared.bytes += reader.summary.regBytes;
    const max = DEFAULT_IMAGE_LIMITS;
    if (this.declared.entries > max.maxEntries) throw limitExceeded(`${where}: the image's lazy layers declare ${this.declared.entries} entries, over the limit of ${max.maxEntries} per image`);
    if (this.declared.bytes > max.maxBytes) throw limitExceeded(`${where}: the image's lazy layers declare ${this.declared.bytes} bytes of files, over the limit of ${max.maxBytes} per image`);
    const base = join(this.layersDir, String(index));
    const stateFile = join(base, 'state.json');
    const toc = reader.index;
    const lazy = LazyLayer.open({
      layerDigest: layer.digest,
      blob: registryBlobSource(this.openRegistry().repository, layer.digest, layer.size, { onWarning: this.options.onWarning, credentials: this.record?.credentials }),
      index: toc,
      compression: reader.format,
      cache: await this.openCache(),
      stateFile,
      backgroundFetch: !this.options.noBackgroundFetch,
      gate: this.gate,
      skipContentVerify: this.options.skipContentVerify ?? false,
      ...(this.options.readAheadBytes !== undefined ? { readAheadBytes: this.options.readAheadBytes } : {}),
    });
    const entry: MountedLayer = { index, digest: layer.digest, mode: 'lazy', dir: join(base, 'fs'), stateFile, lazy };
    this.mounted.push(entry);
    const onAccess = this.options.onAccess;
    const fsOptions = { cacheTimeoutMs: LAYER_CACHE_TIMEOUT_MS, ...(onAccess ? { onAccess: (p: string) => onAccess(p, index) } : {}) };
    const fs = new TocFileSystem(buildInodeTable(toc), lazy, fsOptions);
    await mkdir(entry.dir, { recursive: true });
    this.fuse.push(await mountFuse(entry.dir, fs, {
      fsName: `ctr-remote:${layer.digest.slice(7, 19)}`, unmountOnExit: false, negativeTimeoutMs: LAYER_CACHE_TIMEOUT_MS,
      noOpen: !onAccess, // the access recorder needs every OPEN; without it, opens need no round trip
    }));
  }

  private openRegistry(): RegistryEndpoint {
    if (!this.record) throw notFound('lazy layers without an rpull record');
    this.registry ??= openRegistry(this.record.name, lazyRegistryOptions(this.record.credentials, this.options.registry));
    return this.registry;
  }

  private async openCache(): Promise<ChunkCache> {
    this.cache ??= await ChunkCache.open({
      dir: join(this.root, 'cache'),
      ...(this.options.cacheMaxBytes !== undefined ? { maxBytes: this.options.cacheMaxBytes } : {}),
    });
    return this.cache;
  }
}

/** Move each lazy layer's final state file to `<root>/lazy/state/<layer hex>.json`, for `image status` after a mount or run. */
async function keepLastStates(root: string, layers: readonly MountedLayer[]): Promise<void> {
  for (const l of layers) {
    if (!l.stateFile) continue;
    await mkdir(lastStateDir(root), { recursive: true });
    await rename(l.stateFile, lastStatePath(root, l.digest)).catch(() => undefined);
  }
}
