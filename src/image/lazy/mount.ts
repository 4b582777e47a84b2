// `image mount REF DIR`: the merged image, read-only, lazily fetched: one FUSE mount per lazy layer (and an
// unpacked snapshot per full layer) under `<root>/mounts/<id>/layers`, merged with overlayfs at DIR. The
// image is rpulled first when the store does not have it. `rw`: the overlay gets a writable upper layer,
// `<root>/mounts/<id>/upper`, over the same read-only layers (as a container's rootfs over its image); what
// is written there is discarded at unmount, the layers and the store are never written. `snapshotter:
// 'overlayfs'`: every layer unpacked, none lazy (the image must have been pulled in full). The serving process stays until `unmount()`,
// SIGINT/SIGTERM (Ctrl-C) or `image unmount DIR` from another process; then the overlay comes off first,
// the layer mounts after it. Mounts left by a killed server are cleaned by the next mount/unmount.

import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failedPrecondition, isCtrError, notFound, unsupported } from '../../errors.js';
import { selfOwner } from '../../host/process-owner.js';
import { registerLiveMount, unregisterLiveMount } from '../../fuse/exit-unmount.js';
import { FUSE_SUBTYPE } from '../../fuse/mount.js';
import { cleanupStaleMounts } from '../../fuse/stale-mounts.js';
import { readMounts } from '../../host/mountinfo.js';
import { mountOverlay, mountOverlayReadOnly } from '../../runtime/rootfs.js';
import { unmount as unmountPoint, unmountUnder } from '../../host/unmount.js';
import { mountImageLayers, type LayerMountsOptions, type MountedLayer } from './layer-mounts.js';
import { listMountRecords, newMountId, mountOwnerAlive, writeMountRecord, type MountRecord } from './mount-record.js';
import type { RootLayout } from '../../store/root-layout.js';
import type { Context } from '../context.js';
import { rpullImage, type RpullOptions } from './rpull.js';
import { openStoredImage, type StoredImage } from '../stored-image.js';

/** Options of mountImage. */
export interface MountImageOptions extends LayerMountsOptions, Pick<RpullOptions, 'platform' | 'onLayer'> {
  /** A writable overlay, discarded at unmount (default false: read-only). */
  rw?: boolean;
  /** 'overlayfs': unpack every layer (the image must be fully pulled); default 'stargz' (lazy layers stay lazy). */
  snapshotter?: 'stargz' | 'overlayfs';
}

/** A live image mount. */
export interface MountedImage {
  id: string;
  dir: string;
  image: StoredImage;
  layers: MountedLayer[];
  /** Take everything down (overlay first). Idempotent. */
  unmount(): Promise<void>;
  /** Resolves once the mount has been taken down, by whoever. */
  closed: Promise<void>;
}

/** Mount image `ref` read-only at `dir` (see module comment). Root only. */
export async function mountImage(ctx: Context, ref: string, dir: string, options: MountImageOptions = {}): Promise<MountedImage> {
  if (process.getuid?.() !== 0) throw unsupported('image mount needs root (FUSE mounts and overlayfs)');
  const target = resolve(dir);
  await ctx.secure();
  await cleanupDeadMounts(ctx.paths);
  const image = options.snapshotter === 'overlayfs' ? await openFullImage(ctx, ref, options) : await openOrRpull(ctx, ref, options);
  const { id, dir: base } = newMountId(ctx.paths);
  const record: MountRecord = {
    id, dir: target, name: image.name, manifestDigest: image.manifestDigest, pid: process.pid, owner: selfOwner(), startedAt: new Date().toISOString(), layers: [],
  };
  await writeMountRecord(ctx.paths, record);
  let layers: Awaited<ReturnType<typeof mountImageLayers>> | undefined;
  try {
    layers = await mountImageLayers(ctx, image.manifest.layers, image.record, `${base}/layers`, options);
    if (options.rw) await mountOverlay({ lowerdirs: layers.lowerdirs, upperdir: join(base, 'upper'), workdir: join(base, 'work'), target, linkDir: base });
    else await mountOverlayReadOnly({ lowerdirs: layers.lowerdirs, target, linkDir: base });
  } catch (e) {
    await layers?.unmount();
    await rm(base, { recursive: true, force: true });
    throw e;
  }
  record.layers = layers.layers.map(({ index, digest, mode, dir: d, stateFile }) => ({ index, digest, mode, dir: d, ...(stateFile ? { stateFile } : {}) }));
  await writeMountRecord(ctx.paths, record);
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  let tearing: Promise<void> | undefined;
  const mounted = layers;
  const teardown = (): Promise<void> => (tearing ??= (async () => {
    try {
      await unmountPoint(target).catch(() => undefined);
      await mounted.unmount();
      await rm(base, { recursive: true, force: true });
    } finally {
      unregisterLiveMount(target);
      resolveClosed(); // whatever failed above, the mount's user is not left waiting
    }
  })());
  registerLiveMount(target, teardown);
  options.signal?.addEventListener('abort', () => void teardown().catch(() => undefined), { once: true });
  return { id, dir: target, image, layers: layers.layers, unmount: teardown, closed };
}

/** The stored image with every layer in the store, as the overlayfs snapshotter needs it (its lazy record dropped). */
async function openFullImage(ctx: Context, ref: string, options: MountImageOptions): Promise<StoredImage> {
  const { record, ...image } = await openStoredImage(ctx, ref, options.platform);
  const lazy = record?.layers.filter((l) => l.mode === 'lazy') ?? [];
  if (lazy.length) throw failedPrecondition(`image ${image.name} was rpulled: ${lazy.length} of its layers are not in the store, which --snapshotter overlayfs needs (image pull it, or mount with stargz)`);
  return image;
}

async function openOrRpull(ctx: Context, ref: string, options: MountImageOptions): Promise<StoredImage> {
  try {
    return await openStoredImage(ctx, ref, options.platform);
  } catch (e) {
    if (!isCtrError(e, 'NotFound')) throw e;
  }
  await rpullImage(ctx, ref, {
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.platform ? { platform: options.platform } : {}),
    ...(options.skipContentVerify ? { skipContentVerify: true } : {}),
    ...(options.onLayer ? { onLayer: options.onLayer } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return openStoredImage(ctx, ref, options.platform);
}

/** `image unmount DIR`: ask the serving process to take the mount down, or clean up after a dead one. */
export async function unmountImage(ctx: Context, dir: string, options: { timeoutMs?: number } = {}): Promise<MountRecord> {
  const target = resolve(dir);
  const root = ctx.paths;
  const record = (await listMountRecords(root)).find((r) => r.dir === target);
  if (!record) throw notFound(`no ctr-remote image mount at ${target}`);
  if (record.pid !== process.pid && mountOwnerAlive(record)) {
    process.kill(record.pid, 'SIGTERM');
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    while (Date.now() < deadline && (await listMountRecords(root)).some((r) => r.id === record.id)) await sleep(50);
    if (!(await listMountRecords(root)).some((r) => r.id === record.id)) return record;
  }
  await removeMount(root, record);
  return record;
}

/** Take down the mounts of records whose serving process is gone (a killed `image mount`). */
export async function cleanupDeadMounts(root: RootLayout): Promise<MountRecord[]> {
  const dead = (await listMountRecords(root)).filter((r) => !mountOwnerAlive(r));
  for (const r of dead) await removeMount(root, r);
  await cleanupStaleMounts(root.mounts).catch(() => undefined);
  return dead;
}

async function removeMount(root: RootLayout, record: MountRecord): Promise<void> {
  const ours = (await readMounts()).some((m) => m.mountPoint === record.dir && (m.fsType === 'overlay' || m.fsType === `fuse.${FUSE_SUBTYPE}`));
  if (ours) await unmountPoint(record.dir).catch(() => undefined);
  const base = join(root.mounts, record.id);
  await unmountUnder(base).catch(() => undefined);
  await rm(base, { recursive: true, force: true });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
