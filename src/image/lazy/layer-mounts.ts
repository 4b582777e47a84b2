// The layer-mount core shared by `image mount` and `run --snapshotter stargz`: every lazy layer of an image
// is served by this process's lazy layer service (service/layer-service.ts: a FUSE mount of a TOC
// filesystem over a lazy layer, all lazy layers of the image under one background gate); every other layer
// is an unpacked snapshot. The result is the list of overlayfs lowerdirs, topmost first. Layout under
// `layersDir`: `<n>/fs` (mount point), `<n>/state.json`.

import { join } from 'node:path';
import { isCtrError, notFound, withContext } from '../../errors.js';
import type { LayerState } from '../../layer/layer-state.js';
import type { LazyLayer } from '../../layer/lazy-layer.js';
import type { Descriptor } from '../../oci/types.js';
import type { PrefetchSpan } from '../../estargz/prefetch-span.js';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import { LayerService, type ServeItem } from '../../service/layer-service.js';
import type { Context } from '../context.js';
import { ensureSnapshot } from './layer-snapshot.js';
import type { LazyImageRecord } from './lazy-record.js';

export { LAYER_CACHE_TIMEOUT_MS } from '../../service/layer-service.js';

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
  ctx: Context,
  layers: readonly Descriptor[],
  record: LazyImageRecord | undefined,
  layersDir: string,
  options: LayerMountsOptions = {},
): Promise<MountedLayers> {
  const mounter = new LayerMounter(ctx, record, layersDir, options);
  try {
    for (const [i, layer] of layers.entries()) await mounter.add(i, layer);
    await mounter.finish();
  } catch (e) {
    await mounter.unmount();
    throw e;
  }
  return mounter.result();
}

class LayerMounter {
  private readonly mounted: MountedLayer[] = [];
  /** Lazy layers to serve, all in one batch once every layer is known (one background gate for the image). */
  private readonly pending: (ServeItem & { index: number })[] = [];
  private service: LayerService | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly record: LazyImageRecord | undefined,
    private readonly layersDir: string,
    private readonly options: LayerMountsOptions,
  ) {}

  async add(index: number, layer: Descriptor): Promise<void> {
    const rec = this.record?.layers.find((l) => l.digest === layer.digest);
    if (rec?.mode === 'lazy') return this.addLazy(index, layer, rec.tocDigest, rec.prefetch);
    const dir = await ensureSnapshot(this.ctx, layer, this.options.signal);
    this.mounted.push({ index, digest: layer.digest, mode: 'full', dir });
  }

  /** Serve the lazy layers added. */
  async finish(): Promise<void> {
    if (this.pending.length === 0) return;
    const service = this.layerService();
    await service.mount(this.pending).catch((e: unknown) => {
      const failed = this.pending.find((p) => isCtrError(e) && e.subject === p.layer.digest);
      throw failed ? withContext({ op: 'lazy layer', subject: `${failed.index} (${failed.layer.digest})` }, isCtrError(e) ? (e.cause ?? e) : e) : e;
    });
    for (const m of this.mounted) if (m.mode === 'lazy') m.lazy = service.layerAt(m.dir);
  }

  result(): MountedLayers {
    const layers = [...this.mounted];
    return {
      layers,
      lowerdirs: layers.map((l) => l.dir).reverse(),
      stats: () => this.service?.stats() ?? [],
      unmount: () => this.unmount(),
    };
  }

  async unmount(): Promise<void> {
    await this.service?.close();
  }

  private addLazy(index: number, layer: Descriptor, tocDigest: string | undefined, prefetch: PrefetchSpan | undefined): void {
    if (!this.record) throw notFound('lazy layers without an rpull record');
    const base = join(this.layersDir, String(index));
    const dir = join(base, 'fs');
    const stateFile = join(base, 'state.json');
    const onAccess = this.options.onAccess;
    this.pending.push({
      index,
      dir,
      layer: { ref: this.record.name, digest: layer.digest, size: layer.size, ...(tocDigest ? { tocDigest } : {}) },
      stateFile,
      ...(onAccess ? { onAccess: (p: string) => onAccess(p, index) } : {}),
      ...(prefetch ? { prefetch } : {}),
    });
    this.mounted.push({ index, digest: layer.digest, mode: 'lazy', dir, stateFile });
  }

  private layerService(): LayerService {
    const o = this.options;
    this.service ??= new LayerService({
      paths: this.ctx.paths,
      ...(o.registry ? { registry: o.registry } : {}),
      ...(this.record?.credentials ? { credentials: this.record.credentials } : {}),
      ...(o.noBackgroundFetch ? { noBackgroundFetch: true } : {}),
      ...(o.cacheMaxBytes !== undefined ? { cacheMaxBytes: o.cacheMaxBytes } : {}),
      ...(o.skipContentVerify ? { skipContentVerify: true } : {}),
      ...(o.readAheadBytes !== undefined ? { readAheadBytes: o.readAheadBytes } : {}),
      ...(o.onWarning ? { onWarning: o.onWarning } : {}),
    });
    return this.service;
  }
}
