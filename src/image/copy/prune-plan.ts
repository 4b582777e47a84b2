// Which unpacked snapshots `image prune` (and `image rm`) may delete: pure, from what was read about the
// root. A snapshot goes when no stored image references its layer and no live container, image mount or
// process (hold) uses it; one that is unreferenced but in use is kept and reported with its users.

/** What the planner is told. */
export interface SnapshotPlanInput {
  /** Layer digests that have a snapshot. */
  snapshots: readonly string[];
  /** Every digest reachable from the store's names (layers included). */
  referenced: ReadonlySet<string>;
  /** Layer digest → users (containers, image mounts, pids holding it). */
  users: ReadonlyMap<string, readonly string[]>;
}

/** The decision. */
export interface SnapshotPlan {
  /** Snapshots to delete. */
  remove: string[];
  /** Unreferenced snapshots kept because something uses them. */
  inUse: { digest: string; usedBy: string[] }[];
}

/** Decide which snapshots to delete (see module comment). */
export function planSnapshotPrune(input: SnapshotPlanInput): SnapshotPlan {
  const plan: SnapshotPlan = { remove: [], inUse: [] };
  for (const digest of [...input.snapshots].sort()) {
    if (input.referenced.has(digest)) continue;
    const usedBy = input.users.get(digest);
    if (usedBy?.length) plan.inUse.push({ digest, usedBy: [...usedBy] });
    else plan.remove.push(digest);
  }
  return plan;
}
