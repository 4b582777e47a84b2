// Tear containers down: after a run (unmount; remove with --rm) and, at the start of the next command,
// the leftovers of a run whose owner died (runc state, mounts, --rm directories).
import { access, readdir, rm } from 'node:fs/promises';
import { CtrError } from '../errors.js';
import { removeDeadOwned } from '../host/owned-names.js';
import { withLock } from '../store/file-lock.js';
import { detachCni } from './cni.js';
import { checkContainerId, containerPaths } from './container-paths.js';
import { mountsUnder } from '../host/mountinfo.js';
import { CLAIM_PREFIX, ownerAlive, readOwner } from './owner.js';
import { unmount, unmountUnder } from '../host/unmount.js';
import { runcDelete, runcList } from './runc.js';
import type { RootLayout } from '../store/root-layout.js';

/** Options shared by the teardown functions. */
export interface TeardownOptions {
  /** runc binary. Default `runc`. */
  runc?: string;
  /** Whether runc may hold state for the container (false when it was never spawned). Default true. */
  runcState?: boolean;
  signal?: AbortSignal;
}

/** Stop container `id` of `root` (killing it if still running), drop its runc state, its CNI network, and unmount everything under it. */
export async function stopContainer(root: RootLayout, id: string, opts: TeardownOptions = {}): Promise<void> {
  if (opts.runcState !== false) await runcDelete(root.runc, id, { force: true, runc: opts.runc });
  const paths = containerPaths(root, id);
  // A failed CNI DEL keeps its record and network namespace for the next cleanup to try again, but does not
  // stop the unmounting of the rest.
  const cniFailure = await detachCni(paths.cni).then(() => undefined, (e: unknown) => e ?? new Error('CNI DEL failed'));
  if (cniFailure === undefined) return unmountUnder(paths.dir, opts.signal);
  for (const point of await mountsUnder(paths.dir, opts.signal)) if (point !== paths.netns) await unmount(point, opts.signal);
  throw cniFailure;
}

/** Stop container `id` and delete its directory, upper dir included. Refuses while anything is still mounted there. */
export async function removeContainer(root: RootLayout, id: string, opts: TeardownOptions = {}): Promise<void> {
  await stopContainer(root, id, opts);
  const { dir } = containerPaths(root, id);
  const left = await mountsUnder(dir, opts.signal);
  if (left.length > 0) throw new CtrError('Conflict', `container ${id}: ${left[0]} is still mounted; not removing ${dir}`);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Clean what crashed runs left behind in `root`: containers whose owning process is gone are stopped
 * and unmounted, and removed when they were started with --rm (or have no owner record). Returns the
 * ids that were cleaned. Containers of live runs are not touched. One container that cannot be cleaned
 * does not stop the others: its error is passed to `onError` (default: ignored; the next run retries).
 */
export async function cleanupStaleContainers(
  root: RootLayout,
  opts: TeardownOptions & { onError?: (id: string, e: unknown) => void } = {},
): Promise<string[]> {
  const known = await runcIds(root, opts);
  const ids = new Set([...(await containerDirIds(root)), ...known].filter(isValidId));
  const cleaned: string[] = [];
  for (const id of ids) {
    try {
      if (await cleanOne(root, id, known.includes(id), opts)) cleaned.push(id);
    } catch (e) {
      opts.onError?.(id, e);
    }
  }
  await removeAbandonedClaims(root);
  return cleaned;
}

/** Clean container `id` if its owner is gone; false when there was nothing to do. */
async function cleanOne(root: RootLayout, id: string, inRunc: boolean, opts: TeardownOptions): Promise<boolean> {
  const paths = containerPaths(root, id);
  if (await ownerAlive(await readOwner(paths))) return false; // the common case, without the lock
  // under the container's lock, and with its owner read again: a restart may have taken it over meanwhile
  return withLock(paths.lock, () => cleanDead(root, id, inRunc, opts));
}

async function cleanDead(root: RootLayout, id: string, inRunc: boolean, opts: TeardownOptions): Promise<boolean> {
  const paths = containerPaths(root, id);
  const owner = await readOwner(paths);
  if (await ownerAlive(owner)) return false;
  const mounted = (await mountsUnder(paths.dir, opts.signal)).length > 0;
  const networked = await access(paths.cni).then(() => true, () => false); // a CNI network still to DEL
  if (!mounted && !inRunc && !networked && owner && !owner.remove) return false; // a stopped container kept on purpose
  if (!owner || owner.remove) await removeContainer(root, id, opts);
  else await stopContainer(root, id, opts);
  return true;
}

function isValidId(id: string): boolean {
  try {
    return checkContainerId(id) === id;
  } catch {
    return false;
  }
}

async function containerDirIds(root: RootLayout): Promise<string[]> {
  const names = await readdir(root.containers).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.'));
}

async function runcIds(root: RootLayout, opts: TeardownOptions): Promise<string[]> {
  const stateDir = root.runc;
  const states = await runcList(stateDir, opts.runc, opts.signal).catch(() => []);
  return states.map((s) => s.id);
}

/** `.new-<owner>-<rand>` directories are claims (owner.ts) of processes that died before their rename. */
async function removeAbandonedClaims(root: RootLayout): Promise<void> {
  await removeDeadOwned(root.containers, [CLAIM_PREFIX]);
}
