// `snapshots rm KEY...`: remove snapshots of the root, in the order given. Refused (FailedPrecondition, nothing
// of that key removed): a snapshot with children (remove them first), one in use (a running container, an image
// mount, a live command's hold), a lazy layer (no tree here: `image rm` removes the image). An unpacked layer
// is deleted as `image prune` deletes one (store/snapshots.ts: under the lock, unless a hold appeared); a
// stopped container's directory, upper dir included, as `run --rm` would.
import { failedPrecondition } from '../../errors.js';
import { removeContainers } from '../containers.js';
import { removeSnapshots } from '../../store/snapshots.js';
import type { Context } from '../context.js';
import { findSnapshot, listRootSnapshots } from './root-snapshots.js';
import type { RootSnapshot } from './snapshot-view.js';

/** Options of removeRootSnapshots. */
export interface RemoveRootSnapshotsOptions {
  /** Told each key as soon as it is removed (before a later key may be refused). Default: nothing. */
  onRemoved?: (key: string) => void;
  signal?: AbortSignal;
}

/** Remove snapshots `keys` (see module comment); returns the keys removed. Stops at the first refusal. */
export async function removeRootSnapshots(ctx: Context, keys: readonly string[], options: RemoveRootSnapshotsOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const key of keys) {
    options.signal?.throwIfAborted();
    const all = await listRootSnapshots(ctx, options);
    const snap = findSnapshot(all, key);
    refusal(snap, all);
    // a container goes the way `containers rm` takes it: under its lock, its owner read again
    if (snap.source === 'container') await removeContainers(ctx, [snap.name], options.signal ? { signal: options.signal } : {});
    else {
      const gone = await removeSnapshots(ctx.paths, [snap.layer!], options.signal ? { signal: options.signal } : {});
      if (gone.length === 0) throw failedPrecondition(`snapshot ${key} is in use by a running command (it holds layer ${snap.layer})`);
    }
    removed.push(key);
    options.onRemoved?.(key);
  }
  return removed;
}

/** Throw why `snap` cannot be removed, if it cannot. */
function refusal(snap: RootSnapshot, all: readonly RootSnapshot[]): void {
  if (snap.source === 'lazy') {
    throw failedPrecondition(`snapshot ${snap.name} is a lazy layer of ${snap.images.join(', ')}: it has no tree here to remove (image rm removes the image)`);
  }
  // Snapshots of other chains may share this layer's directory: their children count too.
  const sharing = snap.layer === undefined ? [snap] : all.filter((s) => s.layer === snap.layer && s.source === 'unpacked');
  const children = all.filter((s) => s.parent !== undefined && sharing.some((x) => x.name === s.parent));
  if (children.length) throw failedPrecondition(`snapshot ${snap.name} has children: ${children.map((c) => c.name).join(', ')} (remove them first)`);
  const users = sharing.flatMap((s) => s.users);
  if (users.length) throw failedPrecondition(`snapshot ${snap.name} is in use by ${[...new Set(users)].join(', ')}`);
}
