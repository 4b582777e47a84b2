// `image status REF`: per layer, whether it is lazy or full (and why), how much of it is local in the chunk
// cache, and the fetch counters of its live mount (or of its last mount): bytes fetched, cache hits, errors;
// which of its layers the root's keeper serves (layer-keeper.ts).

import { openEStargz } from '../../estargz/reader.js';
import { ChunkCache } from '../../layer/chunk-cache.js';
import { readLayerState, type LayerState } from '../../layer/layer-state.js';
import type { Platform } from '../../oci/types.js';
import { openLayerTail } from '../../store/layer-tails.js';
import type { RootLayout } from '../../store/root-layout.js';
import type { Context } from '../context.js';
import { listMountRecords, mountOwnerAlive } from './mount-record.js';
import { openStoredImage } from '../stored-image.js';
import { runningKeeperClient } from './layer-keeper.js';

/** The status of one layer. */
export interface LayerStatus {
  index: number;
  digest: string;
  /** Compressed size. */
  size: number;
  mode: 'lazy' | 'full';
  reason?: string;
  /** Lazy only: uncompressed chunk bytes in the cache / in the layer. */
  cachedBytes?: number;
  totalBytes?: number;
  /** Lazy only: counters of the live mount, or of the last one. */
  state?: LayerState;
  /** True when `state` comes from a mount that is still being served. */
  live?: boolean;
}

/** The status of an image. */
export interface ImageStatus {
  name: string;
  manifestDigest: string;
  /** Live mounts of this image. */
  mounts: { dir: string; pid: number }[];
  /** The root's keeper, when it serves lazy layers of this image (layer-keeper.ts). */
  keeper?: { pid: number; layers: number };
  layers: LayerStatus[];
}

/** Report the status of image `ref` in the store. */
export async function imageStatus(ctx: Context, ref: string, platform?: Platform): Promise<ImageStatus> {
  const image = await openStoredImage(ctx, ref, platform);
  const mounts = (await listMountRecords(ctx.paths)).filter((r) => r.manifestDigest === image.manifestDigest && mountOwnerAlive(r));
  const keeper = await keeperServes(ctx.paths);
  const cache = await ChunkCache.open({ dir: ctx.paths.cache, maxBytes: Number.POSITIVE_INFINITY, memoryMaxBytes: 0 });
  const layers: LayerStatus[] = [];
  for (const [index, layer] of image.manifest.layers.entries()) {
    const rec = image.record?.layers.find((l) => l.digest === layer.digest);
    const status: LayerStatus = { index, digest: layer.digest, size: layer.size, mode: rec?.mode ?? 'full' };
    if (rec?.reason) status.reason = rec.reason;
    else if (!rec) status.reason = 'pulled in full (image pull)';
    if (status.mode === 'lazy') {
      Object.assign(status, await cachedBytes(ctx.paths, layer.digest, layer.size, cache));
      const liveFile = mounts.flatMap((m) => m.layers).find((l) => l.digest === layer.digest && l.stateFile)?.stateFile;
      const state = (liveFile && (await readLayerState(liveFile))) || (await readLayerState(ctx.paths.lazyStateOf(layer.digest)));
      if (state) {
        status.state = state;
        status.live = !!liveFile || keeper?.served.has(ctx.paths.keptLayerOf(layer.digest)) === true; // the keeper writes the default state file
      }
    }
    layers.push(status);
  }
  const kept = keeper ? layers.filter((l) => keeper.served.has(ctx.paths.keptLayerOf(l.digest))).length : 0;
  return {
    name: image.name, manifestDigest: image.manifestDigest, mounts: mounts.map((m) => ({ dir: m.dir, pid: m.pid })),
    ...(keeper && kept > 0 ? { keeper: { pid: keeper.pid, layers: kept } } : {}), layers,
  };
}

/** What the root's keeper serves, when one runs (never starting one). */
async function keeperServes(paths: RootLayout): Promise<{ pid: number; served: Set<string> } | undefined> {
  const client = runningKeeperClient(paths);
  try {
    if (!(await client.connectIfRunning())) return undefined;
    const { pid, served } = await client.status();
    return { pid, served: new Set(served) };
  } catch {
    return undefined; // it went away meanwhile: the last states say the rest
  } finally {
    client.close();
  }
}

async function cachedBytes(root: RootLayout, digest: string, size: number, cache: ChunkCache): Promise<{ cachedBytes: number; totalBytes: number }> {
  const tail = await openLayerTail(root, digest, size);
  if (!tail) return { cachedBytes: 0, totalBytes: 0 };
  const reader = await openEStargz(tail);
  let cached = 0;
  let total = 0;
  for (const m of reader.index.members) {
    for (const c of m.chunks) {
      total += c.size;
      if (c.digest && cache.has(c.digest)) cached += c.size;
    }
  }
  return { cachedBytes: cached, totalBytes: total };
}
