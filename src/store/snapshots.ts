// The unpacked layers of a root, `<root>/snapshots`:
//   sha256-<hex>/fs          one layer unpacked (image/layer-snapshot.ts), shared by every image and container
//   tmp-<owner>-<rand>/      an unpack in progress, renamed to sha256-<hex> when complete
//   .hold-<owner>-<hex>      "process <owner> uses snapshot <hex>": taken before a snapshot is looked up or made
//   .trash-<owner>-<rand>/   a snapshot being deleted: renamed away from its name first, so a half-deleted
//                            tree is never found under sha256-<hex>
//   .lock                    serialises taking holds and deleting snapshots
// Owners are `<pid>.<start time>` (host/process-owner.ts): the temps, holds and trash of dead processes
// are removed by the next command; holds of live ones keep their snapshots from being deleted. Taking a
// hold and deleting both happen under the lock, so a snapshot is either held before the deleter looks
// (and kept) or deleted before the holder looks (and unpacked again).
import { unlinkSync } from 'node:fs';
import { mkdir, readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diskUsage } from '../host/disk-usage.js';
import { nameOwner, ownedName, removeDeadOwned, type Leftover } from '../host/owned-names.js';
import { isOwnerAlive, selfOwner } from '../host/process-owner.js';
import { digestHex, isDigest } from '../oci/digest.js';
import { withLock } from './file-lock.js';
import type { RootLayout } from './root-layout.js';

/** Prefix of an unpack in progress. */
export const UNPACK_PREFIX = 'tmp-';
const HOLD_PREFIX = '.hold-';
const TRASH_PREFIX = '.trash-';
const SNAPSHOT_PREFIX = 'sha256-';

/** The directory of a layer's unpacked snapshot (it may not exist yet); the tree is its `fs/`. */
export function snapshotDir(paths: RootLayout, layerDigest: string): string {
  return join(paths.snapshots, `${SNAPSHOT_PREFIX}${digestHex(layerDigest)}`);
}

/** A fresh directory name for unpacking a layer, owned by this process. */
export function unpackTempDir(paths: RootLayout): string {
  return join(paths.snapshots, ownedName(UNPACK_PREFIX));
}

/** Run `fn` holding the snapshots lock of `root`. */
async function withSnapshotsLock<T>(paths: RootLayout, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  await mkdir(paths.snapshots, { recursive: true, mode: 0o700 });
  return withLock(join(paths.snapshots, '.lock'), fn, signal ? { signal } : {});
}

/** Hold files of this process → how many users in this process hold them. */
const heldHere = new Map<string, number>();
let exitHookInstalled = false;

/**
 * Mark the snapshot of `layerDigest` as used by this process (a deleter skips it) until the returned
 * release is called as often as it was held, or the process exits. Call before looking the snapshot up
 * or unpacking it. If the process is killed, the next command removes the hold (its owner is dead).
 */
export async function holdSnapshot(paths: RootLayout, layerDigest: string, signal?: AbortSignal): Promise<() => Promise<void>> {
  const path = join(paths.snapshots, `${HOLD_PREFIX}${selfOwner()}-${digestHex(layerDigest)}`);
  const count = heldHere.get(path) ?? 0;
  if (count === 0) await withSnapshotsLock(paths, () => writeFile(path, ''), signal);
  heldHere.set(path, (heldHere.get(path) ?? 0) + 1);
  installExitHook();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    const left = (heldHere.get(path) ?? 1) - 1;
    if (left > 0) return void heldHere.set(path, left);
    heldHere.delete(path);
    await unlink(path).catch(() => undefined);
  };
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of heldHere.keys()) {
      try {
        unlinkSync(p);
      } catch {
        // already gone
      }
    }
  });
}

/** The layer digests whose snapshots exist under `root`. */
export async function listSnapshots(paths: RootLayout): Promise<string[]> {
  const names = await readdir(paths.snapshots).catch(() => [] as string[]);
  return names.flatMap((n) => {
    const digest = `sha256:${n.slice(SNAPSHOT_PREFIX.length)}`;
    return n.startsWith(SNAPSHOT_PREFIX) && isDigest(digest) ? [digest] : [];
  });
}

/** Layer digests held by live processes, each with the pids holding it. */
export async function liveHolds(paths: RootLayout): Promise<Map<string, string[]>> {
  const held = new Map<string, string[]>();
  for (const name of await readdir(paths.snapshots).catch(() => [] as string[])) {
    const owner = nameOwner(name, HOLD_PREFIX);
    if (owner === undefined || !isOwnerAlive(owner)) continue;
    const digest = `sha256:${name.slice(HOLD_PREFIX.length + owner.length + 1)}`;
    if (!isDigest(digest)) continue;
    held.set(digest, [...(held.get(digest) ?? []), owner.split('.')[0] ?? owner]);
  }
  return held;
}

/** A snapshot deleted (or, dry-run, to be deleted). */
export interface RemovedSnapshot {
  digest: string;
  bytes: number;
}

/** Options of removeSnapshots. */
export interface RemoveSnapshotsOptions {
  /** Report without deleting (default false). */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/**
 * Delete the snapshots of `candidates` (layer digests) that no live process holds (checked under the
 * lock): each is renamed to trash first, then removed. Returns what was deleted with its size.
 */
export async function removeSnapshots(
  paths: RootLayout,
  candidates: readonly string[],
  options: RemoveSnapshotsOptions = {},
): Promise<RemovedSnapshot[]> {
  if (candidates.length === 0) return [];
  const doomed: { digest: string; dir: string }[] = [];
  await withSnapshotsLock(paths, async () => {
    const held = await liveHolds(paths);
    for (const digest of candidates) {
      if (held.has(digest)) continue;
      const dir = snapshotDir(paths, digest);
      if (options.dryRun) {
        doomed.push({ digest, dir });
        continue;
      }
      const trash = join(paths.snapshots, ownedName(TRASH_PREFIX));
      const moved = await rename(dir, trash).then(() => true, (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return false;
        throw e;
      });
      if (moved) doomed.push({ digest, dir: trash });
    }
  }, options.signal);
  const removed: RemovedSnapshot[] = [];
  for (const { digest, dir } of doomed) {
    const bytes = await diskUsage(dir);
    if (!options.dryRun) await rm(dir, { recursive: true, force: true });
    removed.push({ digest, bytes });
  }
  return removed;
}

/** Remove the unpack temps, holds and trash of dead processes under `root`'s snapshots. */
export async function removeDeadSnapshotLeftovers(paths: RootLayout, options: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<Leftover[]> {
  return removeDeadOwned(paths.snapshots, [UNPACK_PREFIX, HOLD_PREFIX, TRASH_PREFIX], options);
}
