// `snapshots mounts DIR KEY`: how to mount a snapshot of the root, described (host/mount-spec.ts), not made.
// A container's snapshot is its overlay (its lowerdirs, upper and work dirs); a committed layer is the
// read-only stack of it and its parents (a read-only bind for a base), as a view of it would be. A lazy
// layer has no tree on disk (FUSE serves it only inside a run or an image mount), so a stack with one is refused.
import { readdir, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { failedPrecondition } from '../../errors.js';
import type { MountSpec } from '../../host/mount-spec.js';
import { containerPaths } from '../../runtime/container-paths.js';
import type { Context } from '../context.js';
import { findSnapshot, listRootSnapshots } from './root-snapshots.js';
import type { RootSnapshot } from './snapshot-view.js';

/** Image content never grants privileges on the host: its setuid files and device nodes stay inert. */
const CONFINED = ['nosuid', 'nodev'];

/** The mounts of snapshot `key` (see module comment). NotFound, FailedPrecondition. */
export async function snapshotMounts(ctx: Context, key: string, options: { signal?: AbortSignal } = {}): Promise<MountSpec[]> {
  const all = await listRootSnapshots(ctx, options);
  const snap = findSnapshot(all, key);
  if (snap.source === 'container') return containerMounts(ctx, snap);
  const stack: string[] = [];
  for (let s: RootSnapshot | undefined = snap; s; s = s.parent === undefined ? undefined : all.find((x) => x.name === s!.parent)) {
    if (s.source === 'lazy' || !s.dir) {
      throw failedPrecondition(`snapshot ${key} ${s === snap ? 'is' : `sits on ${s.name}, which is`} a lazy layer: it has no tree on disk (FUSE serves it inside run or image mount; use image mount)`);
    }
    stack.push(s.dir);
  }
  if (snap.parent !== undefined && stack.length === 1) throw failedPrecondition(`snapshot ${key}: its parent ${snap.parent} is not in the root`);
  if (stack.length === 1) return [{ type: 'bind', source: stack[0]!, options: ['ro', 'rbind', ...CONFINED] }];
  return [{ type: 'overlay', source: 'overlay', options: ['ro', ...CONFINED, `lowerdir=${stack.join(':')}`] }];
}

async function containerMounts(ctx: Context, snap: RootSnapshot): Promise<MountSpec[]> {
  const paths = containerPaths(ctx.paths, snap.name);
  const names = (await readdir(join(paths.dir, 'l')).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  if (names.length === 0) throw failedPrecondition(`container ${snap.name} has no layers recorded (it never started)`);
  const lowerdirs = await Promise.all(names.map(async (n) => resolve(paths.dir, 'l', await readlink(join(paths.dir, 'l', n)))));
  // a second overlay over the upper and work dirs of a running container would corrupt them
  if (snap.users.length > 0) throw failedPrecondition(`container ${snap.name} is running: its upper and work dirs are in use (mount it once it stopped)`);
  if (lowerdirs.some((d) => d.startsWith(`${paths.layers}/`))) throw failedPrecondition(`container ${snap.name} has lazy layers, mounted only while it runs`);
  return [{ type: 'overlay', source: 'overlay', options: [...CONFINED, `lowerdir=${lowerdirs.join(':')}`, `upperdir=${paths.upper}`, `workdir=${paths.work}`] }];
}
