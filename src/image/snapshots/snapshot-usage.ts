// `snapshots usage [KEY...]`: the disk use of each snapshot's own tree (bytes of files, inodes): an unpacked
// layer's tree, a container's upper dir. A lazy layer has no tree of its own (its chunks are in the shared
// cache, which `image status` reports), so it uses nothing here.
import { treeUsage } from '../../host/disk-usage.js';
import type { Context } from '../context.js';
import { findSnapshot, listRootSnapshots } from './root-snapshots.js';

/** One row of `snapshots usage`. */
export interface SnapshotDiskUsage {
  name: string;
  size: number;
  inodes: number;
}

/** The usage of snapshots `keys` (all when empty); NotFound names an unknown key. */
export async function snapshotUsage(ctx: Context, keys: readonly string[], options: { signal?: AbortSignal } = {}): Promise<SnapshotDiskUsage[]> {
  const all = await listRootSnapshots(ctx, options);
  const chosen = keys.length ? keys.map((k) => findSnapshot(all, k)) : all;
  const out: SnapshotDiskUsage[] = [];
  for (const s of chosen) {
    options.signal?.throwIfAborted();
    const { bytes, inodes } = s.dir && s.source !== 'lazy' ? await treeUsage(s.dir) : { bytes: 0, inodes: 0 };
    out.push({ name: s.name, size: bytes, inodes });
  }
  return out;
}
