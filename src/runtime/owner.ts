// Which process owns a container, so that the next command can tell a live run from the leftovers of
// a crashed one. A pid alone can be reused; the pid's start time cannot (host/process-owner.ts).
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CtrError, notFound } from '../errors.js';
import { writeFileAtomic } from '../host/atomic-file.js';
import { withLock } from '../store/file-lock.js';
import { ownedName } from '../host/owned-names.js';
import { isOwnerAlive, processStartTime } from '../host/process-owner.js';
import { ensurePrivateDir } from '../store/private-dirs.js';
import type { ContainerPaths } from './container-paths.js';

/** The owner record of a container directory. */
export interface OwnerRecord {
  pid: number;
  /** Process start time in clock ticks since boot. */
  startTime: string;
  /** Remove the container (upper dir included) once it stops (`--rm`). */
  remove: boolean;
  /** Image reference the container was created from, for messages. */
  ref: string;
  /** `run --label K=V`: the container's labels (containerd keeps them with the container; here, with its record). */
  labels?: Record<string, string>;
}

/** Prefix of a container directory being claimed (`.new-<owner>-<rand>`, renamed to the id when complete). */
export const CLAIM_PREFIX = '.new-';

/** The record for this process as owner. */
export async function ownRecord(ref: string, remove: boolean, labels?: Record<string, string>): Promise<OwnerRecord> {
  const record: OwnerRecord = { pid: process.pid, startTime: processStartTime(process.pid) ?? '', remove, ref };
  return labels && Object.keys(labels).length > 0 ? { ...record, labels } : record;
}

/**
 * Create the container directory with its owner record atomically (a prepared directory renamed into
 * place), so no other command ever sees it without an owner. Throws Conflict when the id is taken.
 */
export async function claimContainerDir(paths: ContainerPaths, record: OwnerRecord): Promise<void> {
  const parent = dirname(paths.dir);
  await mkdir(dirname(parent), { recursive: true });
  await ensurePrivateDir(parent); // containers/: upper dirs hold what containers wrote (setuid files included)
  const tmp = join(parent, ownedName(CLAIM_PREFIX));
  await mkdir(tmp);
  await writeFile(join(tmp, 'owner.json'), JSON.stringify(record));
  try {
    await rename(tmp, paths.dir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') throw containerExists(paths);
    throw e;
  }
}

/**
 * Take over the existing directory of a stopped container (to start it again): refused while its owner
 * lives. The new record replaces the old one atomically. NotFound when there is no such container.
 */
export async function reclaimContainerDir(paths: ContainerPaths, record: OwnerRecord): Promise<void> {
  const id = paths.dir.split('/').pop() ?? '';
  await withLock(paths.lock, async () => {
    const old = await readOwner(paths);
    if (!old) {
      const exists = await stat(paths.dir).then(() => true, () => false);
      if (!exists) throw notFound(`container ${JSON.stringify(id)} does not exist`);
    }
    if (await ownerAlive(old)) throw new CtrError('FailedPrecondition', `container ${JSON.stringify(id)} is running or starting (its owner, pid ${old?.pid}, is alive)`);
    // the labels stay the container's; the exit of its last run is no longer its state
    const labels = record.labels ?? old?.labels;
    await writeFileAtomic(paths.owner, JSON.stringify({ ...record, ...(labels ? { labels } : {}) }), { mode: 0o600 });
    await rm(paths.exit, { force: true });
  });
}

/** Read a container's owner record; undefined when missing or unreadable. */
export async function readOwner(paths: ContainerPaths): Promise<OwnerRecord | undefined> {
  try {
    return JSON.parse(await readFile(paths.owner, 'utf8')) as OwnerRecord;
  } catch {
    return undefined;
  }
}

/** True when the record's process is still running (same pid and same start time). */
export async function ownerAlive(record: OwnerRecord | undefined): Promise<boolean> {
  return record !== undefined && record.startTime !== '' && isOwnerAlive(`${record.pid}.${record.startTime}`);
}

function containerExists(paths: ContainerPaths): CtrError {
  return new CtrError(
    'Conflict',
    `container ${JSON.stringify(paths.dir.split('/').pop())} already exists (${paths.dir}); remove that directory or use another ID`,
  );
}
