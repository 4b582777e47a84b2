// Who uses which unpacked snapshot (or lazy layer served by the CLI's keeper), besides the holds of live processes (store/snapshots.ts): containers
// of the root whose owner runs or whose rootfs is still mounted (a killed `run` leaves its container
// running), found through their overlay's `l/<n>` lowerdir links; and image mounts whose serving process
// runs or whose mount point is still mounted, found through their records. A stopped, kept container does
// not pin its image's snapshots (no command restarts it).
import { readdir, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { containerPaths } from '../../runtime/container-paths.js';
import { mountsUnder, readMounts } from '../../host/mountinfo.js';
import { ownerAlive, readOwner } from '../../runtime/owner.js';
import type { RootLayout } from '../../store/root-layout.js';
import { listMountRecords, mountOwnerAlive } from './mount-record.js';

/** Layer digest → who uses its snapshot ("container ID", "image mount DIR"). */
export type SnapshotUsers = Map<string, string[]>;

/** The snapshots that live containers and image mounts of a root use (see module comment). */
export async function snapshotUsers(root: RootLayout, signal?: AbortSignal): Promise<SnapshotUsers> {
  const users: SnapshotUsers = new Map();
  const add = (digest: string, who: string) => users.set(digest, [...(users.get(digest) ?? []), who]);
  const byDir = snapshotDigestsByDir(root);
  for (const id of await readdir(root.containers).catch(() => [] as string[])) {
    if (id.startsWith('.')) continue;
    const paths = safePaths(root, id);
    if (!paths) continue;
    const live = (await ownerAlive(await readOwner(paths))) || (await mountsUnder(paths.dir, signal)).length > 0;
    if (!live) continue;
    for (const digest of await linkedSnapshots(paths.dir, byDir)) add(digest, `container ${id}`);
  }
  const mounted = new Set((await readMounts(signal)).map((m) => m.mountPoint));
  for (const record of await listMountRecords(root)) {
    if (!mountOwnerAlive(record) && !mounted.has(record.dir)) continue;
    for (const l of record.layers) if (l.mode === 'full') add(l.digest, `image mount ${record.dir}`);
  }
  return users;
}

/** Resolves a lowerdir link target to the layer digest of the snapshot it points into. */
type DigestByDir = (target: string) => string | undefined;

/** Unpacked snapshots (`snapshots/sha256-<hex>/...`) and the keeper's lazy layers (`snapshotter/layers/<hex>`). */
function snapshotDigestsByDir(root: RootLayout): DigestByDir {
  const prefixes = [resolve(root.snapshots, 'sha256-'), resolve(root.keptLayers) + '/'];
  return (target) => {
    const prefix = prefixes.find((p) => target.startsWith(p));
    const hex = /^([0-9a-f]{64})(?:\/|$)/.exec(prefix === undefined ? '' : target.slice(prefix.length))?.[1];
    return hex === undefined ? undefined : `sha256:${hex}`;
  };
}

/** Snapshots linked from `<dir>/l/<n>` (the overlay's lowerdirs, runtime/rootfs.ts). */
async function linkedSnapshots(dir: string, byDir: DigestByDir): Promise<string[]> {
  const out: string[] = [];
  for (const n of await readdir(join(dir, 'l')).catch(() => [] as string[])) {
    const target = await readlink(join(dir, 'l', n)).catch(() => undefined);
    const digest = target === undefined ? undefined : byDir(resolve(dir, 'l', target));
    if (digest !== undefined) out.push(digest);
  }
  return out;
}

function safePaths(root: RootLayout, id: string): ReturnType<typeof containerPaths> | undefined {
  try {
    return containerPaths(root, id);
  } catch {
    return undefined;
  }
}
