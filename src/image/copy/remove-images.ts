// `image rm REF...`: drop names from the store, then garbage-collect the blobs no name reaches any more and
// the unpacked snapshots of layers no stored image references (unless a live container or mount uses them);
// the root's keeper lets go of the lazy layers no stored image references (lazy/layer-keeper.ts).
import type { Context } from '../context.js';
import { collectGarbage, type GcResult } from '../../store/gc.js';
import { normalizeName } from '../location.js';
import { removeUnusedSnapshots, type SnapshotPruneResult } from './prune.js';
import { releaseUnusedKeptLayers, type KeeperRelease } from '../lazy/layer-keeper.js';

/** Outcome of removeImages. */
export interface RemoveResult {
  /** Names removed (normalized). */
  removed: string[];
  /** Names given that the store did not have (normalized). */
  missing: string[];
  gc: GcResult;
  /** Snapshots removed (and unreferenced ones kept because they are in use). */
  snapshots: SnapshotPruneResult;
  /** Lazy layers the root's keeper let go (and whether it ended). */
  keeper: KeeperRelease;
}

/** Remove `refs` from the store and collect garbage. Unknown names are reported, not thrown. */
export async function removeImages(ctx: Context, refs: string[], options: { signal?: AbortSignal } = {}): Promise<RemoveResult> {
  const names = refs.map(normalizeName);
  const store = await ctx.store();
  const removed: string[] = [];
  const missing: string[] = [];
  for (const name of names) (await store.removeName(name, options) ? removed : missing).push(name);
  const gc = await collectGarbage(store, options);
  const snapshots = await removeUnusedSnapshots(ctx, options);
  return { removed, missing, gc, snapshots, keeper: await releaseUnusedKeptLayers(ctx, options.signal) };
}
