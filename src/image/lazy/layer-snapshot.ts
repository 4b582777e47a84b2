// A layer that is not mounted lazily, unpacked once from the store into its own overlayfs lowerdir:
// `<root>/snapshots/sha256-<hex>/fs` (whiteouts in overlayfs spelling). Unpacked into an owned temp dir
// (`tmp-<pid>.<start>-<rand>`) and renamed, so a half-unpacked layer never appears under the final name
// and a killed unpack's temp is recognised as dead. The snapshot is held by this process first
// (store/snapshots.ts) so `image prune` / `image rm` do not delete it while it is in use.

import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withContext } from '../../errors.js';
import type { Descriptor } from '../../oci/types.js';
import { holdSnapshot, snapshotDir, unpackTempDir } from '../../store/snapshots.js';
import { unpackLayer } from '../../unpack/unpack-layer.js';
import { decompressLayer } from '../../oci/layer-decompress.js';
import { consumeVerified } from '../../content/verified-stream.js';
import type { Context } from '../context.js';

/** A snapshot in use: its lowerdir, and the release of this process's hold on it. */
export interface UsedSnapshot {
  dir: string;
  release(): Promise<void>;
}

/** Unpack `layer` (whose blob is in the store) unless already done; returns its lowerdir, held until this process exits. */
export async function ensureSnapshot(ctx: Context, layer: Descriptor, signal?: AbortSignal): Promise<string> {
  return (await useSnapshot(ctx, layer, signal)).dir;
}

/** Like ensureSnapshot, but the hold ends when `release` is called (after the overlay above it is gone). */
export async function useSnapshot(ctx: Context, layer: Descriptor, signal?: AbortSignal): Promise<UsedSnapshot> {
  const release = await holdSnapshot(ctx.paths, layer.digest, signal);
  try {
    return { dir: await unpackOnce(ctx, layer, signal), release };
  } catch (e) {
    await release();
    throw e;
  }
}

async function unpackOnce(ctx: Context, layer: Descriptor, signal?: AbortSignal): Promise<string> {
  const dir = snapshotDir(ctx.paths, layer.digest);
  const fs = join(dir, 'fs');
  if (await exists(fs)) return fs;
  const temp = unpackTempDir(ctx.paths);
  await mkdir(join(temp, 'fs'), { recursive: true });
  try {
    const store = await ctx.store();
    await consumeVerified(layer, await store.stream(layer.digest, signal ? { signal } : {}), (blob) =>
      unpackLayer(decompressLayer(layer.mediaType, blob, layer.digest), join(temp, 'fs'), { whiteouts: 'overlayfs', ...(signal ? { signal } : {}) }), signal);
    await rename(temp, dir).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; // another process finished first
    });
  } catch (e) {
    throw withContext({ op: 'unpack layer', subject: layer.digest }, e);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return fs;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
