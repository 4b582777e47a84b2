// `image prune`: free the disk space no stored image needs, without touching any named image:
//   - blobs no name reaches (store/gc.ts; deferred while another process holds a lease on the store),
//   - unpacked snapshots of layers no stored image references and no live container, image mount or
//     process uses (prune-plan.ts, snapshot-users.ts, store/snapshots.ts),
//   - the lazy layers the root's keeper serves that no stored image references (lazy/layer-keeper.ts),
//   - what dead processes left: partial ingest files and leases, convert spool dirs (`<root>/tmp` and
//     $TMPDIR), unpack temps, snapshot holds and trash, container claims.
// `image rm` runs the first two after removing names (removeUnusedSnapshots).
import { tmpdir } from 'node:os';
import { removeDeadOwned, type Leftover } from '../../host/owned-names.js';
import type { BlobInfo } from '../../store/blob-writer.js';
import { collectGarbage, reachableDigests } from '../../store/gc.js';
import { liveHolds, listSnapshots, removeDeadSnapshotLeftovers, removeSnapshots, type RemovedSnapshot } from '../../store/snapshots.js';
import { CLAIM_PREFIX } from '../../runtime/owner.js';
import type { Context } from '../context.js';
import { CONVERT_TEMP_PREFIXES } from '../convert/convert-layer.js';
import { planSnapshotPrune } from './prune-plan.js';
import { snapshotUsers } from '../lazy/snapshot-users.js';
import { releaseUnusedKeptLayers, type KeeperRelease } from '../lazy/layer-keeper.js';

/** Options of pruneRoot. */
export interface PruneOptions {
  /** Report what would be removed without removing anything (default false). */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Snapshots removed, and unreferenced ones kept because they are in use. */
export interface SnapshotPruneResult {
  removed: RemovedSnapshot[];
  inUse: { digest: string; usedBy: string[] }[];
  bytes: number;
}

/** What pruneRoot removed (or would remove). */
export interface PruneResult {
  dryRun: boolean;
  blobs: { removed: BlobInfo[]; bytes: number; /** pids holding store leases: no blob was removed */ deferredBy?: string[] };
  snapshots: SnapshotPruneResult;
  /** Files and directories of dead processes. */
  leftovers: { removed: Leftover[]; bytes: number };
  /** Everything together. */
  freedBytes: number;
  /** Lazy layers the root's keeper let go (not on a dry run). */
  keeper: KeeperRelease;
}

/** Prune the root (see module comment). */
export async function pruneRoot(ctx: Context, options: PruneOptions = {}): Promise<PruneResult> {
  const store = await ctx.store({ cleanup: false });
  const gc = await collectGarbage(store, options);
  const snapshots = await removeUnusedSnapshots(ctx, options);
  const leftovers = [
    ...gc.leftovers,
    ...(await removeDeadOwned(ctx.paths.tmp, CONVERT_TEMP_PREFIXES, options)),
    ...(await removeDeadOwned(tmpdir(), CONVERT_TEMP_PREFIXES, options)),
    ...(await removeDeadSnapshotLeftovers(ctx.paths, options)),
    ...(await removeDeadOwned(ctx.paths.containers, [CLAIM_PREFIX], options)),
  ];
  const leftoverBytes = sum(leftovers.map((l) => l.bytes));
  const keeper = options.dryRun ? { released: [], ended: false } : await releaseUnusedKeptLayers(ctx, options.signal);
  return {
    keeper,
    dryRun: options.dryRun === true,
    blobs: { removed: gc.removed, bytes: gc.freedBytes, ...(gc.deferredBy ? { deferredBy: gc.deferredBy } : {}) },
    snapshots,
    leftovers: { removed: leftovers, bytes: leftoverBytes },
    freedBytes: gc.freedBytes + snapshots.bytes + leftoverBytes,
  };
}

/** Delete the snapshots of layers that no name of the store references and nothing uses (see prune-plan.ts). */
export async function removeUnusedSnapshots(ctx: Context, options: PruneOptions = {}): Promise<SnapshotPruneResult> {
  const snapshots = await listSnapshots(ctx.paths);
  if (snapshots.length === 0) return { removed: [], inUse: [], bytes: 0 };
  const store = await ctx.store();
  const referenced = await reachableDigests(store, (await store.readIndex()).manifests);
  const users = await snapshotUsers(ctx.paths, options.signal);
  for (const [digest, pids] of await liveHolds(ctx.paths)) {
    for (const pid of pids) users.set(digest, [...(users.get(digest) ?? []), `pid ${pid}`]);
  }
  const plan = planSnapshotPrune({ snapshots, referenced, users });
  const removed = await removeSnapshots(ctx.paths, plan.remove, options);
  return { removed, inUse: plan.inUse, bytes: sum(removed.map((r) => r.bytes)) };
}

const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);
