// The record of one live `image mount`, so that `image unmount` and `image status` (other processes) can
// find its serving process, its layers' state files, and clean up after a killed server:
//   <root>/mounts/<id>/mount.json, <root>/mounts/<id>/layers/<n>/{fs,state.json}

import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isOwnerAlive } from '../../host/process-owner.js';
import { writeFileAtomic } from '../../host/atomic-file.js';
import type { RootLayout } from '../../store/root-layout.js';

/** What a live image mount writes about itself. */
export interface MountRecord {
  id: string;
  /** The merged mount point (absolute). */
  dir: string;
  /** Store name of the image. */
  name: string;
  manifestDigest: string;
  /** The serving process. */
  pid: number;
  /** The serving process as `<pid>.<start time>` (host/process-owner.ts selfOwner); absent in records of earlier versions. */
  owner?: string;
  startedAt: string;
  layers: { index: number; digest: string; mode: 'lazy' | 'full'; dir: string; stateFile?: string }[];
}

/** A fresh mount id and its directory. */
export function newMountId(root: RootLayout): { id: string; dir: string } {
  const id = randomBytes(6).toString('hex');
  return { id, dir: join(root.mounts, id) };
}

/** Write (or rewrite) a mount's record. */
export async function writeMountRecord(root: RootLayout, record: MountRecord): Promise<void> {
  const dir = join(root.mounts, record.id);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'mount.json'), `${JSON.stringify(record, null, 2)}\n`);
}

/** Every mount record under `root` (unreadable ones skipped). */
export async function listMountRecords(root: RootLayout): Promise<MountRecord[]> {
  let ids: string[];
  try {
    ids = await readdir(root.mounts);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: MountRecord[] = [];
  for (const id of ids) {
    try {
      out.push(JSON.parse(await readFile(join(root.mounts, id, 'mount.json'), 'utf8')) as MountRecord);
    } catch {
      // a mount being set up or torn down
    }
  }
  return out;
}

/**
 * True while the mount's serving process runs: same pid and start time. A record written by an earlier
 * version has no owner, only a pid: it counts as alive while that pid exists, so an upgrade never takes
 * down a mount an older binary still serves.
 */
export function mountOwnerAlive(record: Pick<MountRecord, 'owner' | 'pid'>): boolean {
  if (typeof record.owner === 'string') return isOwnerAlive(record.owner);
  return Number.isInteger(record.pid) && record.pid > 0 && isOwnerAlive(`${record.pid}.0`);
}
