// A layer that is not mounted lazily, unpacked once from the store into its own overlayfs lowerdir:
// `<root>/snapshots/sha256-<hex>/fs` (whiteouts in overlayfs spelling). Unpacked into a temp dir and
// renamed, so a half-unpacked layer never appears under the final name.

import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { withContext } from '../errors.js';
import { digestHex } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { openStore } from '../store/image-store.js';
import { unpackLayer } from '../unpack/unpack-layer.js';
import { decompressLayer } from './convert-decompress.js';
import { consumeVerified } from './verified-stream.js';

/** The directory of a layer's unpacked snapshot (it may not exist yet). */
export function snapshotDir(root: string, layerDigest: string): string {
  return join(root, 'snapshots', `sha256-${digestHex(layerDigest)}`);
}

/** Unpack `layer` (whose blob is in the store) unless already done; returns its lowerdir. */
export async function ensureSnapshot(root: string, layer: Descriptor, signal?: AbortSignal): Promise<string> {
  const dir = snapshotDir(root, layer.digest);
  const fs = join(dir, 'fs');
  if (await exists(fs)) return fs;
  const temp = join(root, 'snapshots', `tmp-${randomBytes(6).toString('hex')}`);
  await mkdir(join(temp, 'fs'), { recursive: true });
  try {
    const store = await openStore(root);
    await consumeVerified(layer, await store.stream(layer.digest, signal ? { signal } : {}), (blob) =>
      unpackLayer(decompressLayer(layer.mediaType, blob, layer.digest), join(temp, 'fs'), { whiteouts: 'overlayfs', ...(signal ? { signal } : {}) }), signal);
    await rename(temp, dir).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e; // another process finished first
    });
  } catch (e) {
    throw withContext(`unpack layer ${layer.digest}`, e);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return fs;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
