// `containers ls | info | rm`: the containers of a root (`<root>/containers/<id>`), whoever runs them: a
// detached container's supervisor, a foreground `run`, or nobody (stopped, kept). Every listing first
// cleans what dead owners left (runtime/cleanup.ts), so what it reports is the state of the host.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CtrError } from '../errors.js';
import { cleanupStaleContainers, removeContainer } from '../runtime/cleanup.js';
import { checkContainerId, containerPaths } from '../runtime/container-paths.js';
import { taskView, type TaskView } from '../runtime/container-status.js';
import { readDetachedRecord } from '../runtime/detached-record.js';
import { ownerAlive, readOwner } from '../runtime/owner.js';
import { runcKill, runcList, runcState, type RuncState } from '../runtime/runc.js';
import { withLock } from '../store/file-lock.js';
import { readTaskExit } from '../runtime/task-exit.js';
import type { Context } from './context.js';

/** The runtime every container runs with, in containerd's name for it. */
export const RUNTIME = 'io.containerd.runc.v2';

/** One container as listed. */
export interface ContainerInfo {
  id: string;
  /** The image it was made from. */
  image: string;
  runtime: string;
  /** Started with run -d (a supervisor runs it; `tasks start` can start it again). */
  detached: boolean;
  /** Removed when it stops (--rm). */
  removeOnExit: boolean;
  task: TaskView;
  /** The pid of its owner (supervisor or foreground run) while that lives. */
  owner?: number;
  /** A detached container's output file. */
  log?: string;
  createdAt?: string;
  dir: string;
}

/** Options shared by the container and task use cases. */
export interface ContainersOptions {
  /** runc binary. Default `runc`. */
  runc?: string;
  signal?: AbortSignal;
}

/** Every container of the root, by id. */
export async function listContainers(ctx: Context, o: ContainersOptions = {}): Promise<ContainerInfo[]> {
  await cleanupStaleContainers(ctx.paths, o);
  const states = await runcStates(ctx, o);
  const names = await readdir(ctx.paths.containers).catch(() => [] as string[]);
  const out: ContainerInfo[] = [];
  for (const id of names.filter((n) => !n.startsWith('.')).sort()) {
    const info = await describe(ctx, id, states.get(id));
    if (info) out.push(info);
  }
  return out;
}

/** One container; NotFound when there is none of that id. */
export async function getContainer(ctx: Context, id: string, o: ContainersOptions = {}): Promise<ContainerInfo> {
  checkContainerId(id);
  await cleanupStaleContainers(ctx.paths, o);
  const info = await describe(ctx, id, (await runcStates(ctx, o)).get(id));
  if (!info) throw new CtrError('NotFound', `container ${JSON.stringify(id)} does not exist`);
  return info;
}

/**
 * Remove containers with their writes. A running one is refused (FailedPrecondition) unless `force`: then it
 * is killed, its owner given time to take it down, and removed. Every id is tried; the first failure is thrown
 * after the others were done.
 */
export async function removeContainers(ctx: Context, ids: string[], o: ContainersOptions & { force?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  let first: unknown;
  for (const id of ids) {
    try {
      const info = await getContainer(ctx, id, o);
      if (info.task.status !== 'stopped' || info.owner !== undefined) {
        if (!o.force) throw new CtrError('FailedPrecondition', `container ${id} is ${info.task.status}; stop it first (tasks kill) or use --force`);
        await stopRunning(ctx, id, o);
      }
      // under the container's lock, with its owner read again: a `tasks start` may have taken it over meanwhile
      const paths = containerPaths(ctx.paths, id);
      await withLock(paths.lock, async () => {
        const owner = await readOwner(paths);
        if (await ownerAlive(owner)) throw new CtrError('FailedPrecondition', `container ${id} was started again (owner pid ${owner?.pid}) while being removed`);
        await removeContainer(ctx.paths, id, { ...(o.runc ? { runc: o.runc } : {}), ...(o.signal ? { signal: o.signal } : {}) });
      });
      removed.push(id);
    } catch (e) {
      first ??= e;
    }
  }
  if (first !== undefined) throw first;
  return removed;
}

/**
 * Stop a container and wait (up to `timeoutMs`) for its owner to end, after taking everything down: the
 * container is killed through runc; an owner still setting it up (no runc state yet) is sent SIGTERM, on
 * which it undoes its setup. An owner that does not end in time is an error: nothing is removed from under it.
 */
export async function stopRunning(ctx: Context, id: string, o: ContainersOptions & { timeoutMs?: number } = {}): Promise<void> {
  const paths = containerPaths(ctx.paths, id);
  const owner = await readOwner(paths);
  await runcKill(ctx.paths.runc, id, 'KILL', o.runc, true).catch(() => undefined); // not created yet, or already gone
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  let termed = false;
  while (await ownerAlive(owner)) {
    if (Date.now() > deadline) throw new CtrError('Unavailable', `container ${id}: its owner (pid ${owner?.pid}) did not end within ${Math.round((o.timeoutMs ?? 15_000) / 1000)} s; nothing was removed`);
    if (!termed && !(await runcState(ctx.paths.runc, id, o.runc).catch(() => undefined))) {
      termed = true;
      process.kill(owner!.pid, 'SIGTERM'); // ownerAlive checked its start time: the pid is still the owner's
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function describe(ctx: Context, id: string, runc: RuncState | undefined): Promise<ContainerInfo | undefined> {
  const paths = containerPaths(ctx.paths, id);
  const owner = await readOwner(paths);
  const detached = await readDetachedRecord(paths);
  if (!owner && !detached) return undefined; // not a container directory (or one being claimed)
  const alive = await ownerAlive(owner);
  const exit = await readTaskExit(paths);
  return {
    id,
    image: detached?.image ?? owner?.ref ?? '',
    runtime: RUNTIME,
    detached: detached !== undefined,
    removeOnExit: owner?.remove === true,
    task: taskView({ ownerAlive: alive, ...(runc ? { runc } : {}), ...(exit ? { exit } : {}) }),
    ...(alive && owner ? { owner: owner.pid } : {}),
    ...(detached ? { log: detached.log, createdAt: detached.createdAt } : {}),
    dir: paths.dir,
  };
}

async function runcStates(ctx: Context, o: ContainersOptions): Promise<Map<string, RuncState>> {
  const list = await runcList(ctx.paths.runc, o.runc, o.signal).catch(() => [] as RuncState[]);
  return new Map(list.map((s) => [s.id, s]));
}

/** The OCI runtime spec a container runs with (its bundle's config.json). */
export async function containerSpec(ctx: Context, id: string): Promise<unknown> {
  const paths = containerPaths(ctx.paths, checkContainerId(id));
  try {
    return JSON.parse(await readFile(join(paths.bundle, 'config.json'), 'utf8')) as unknown;
  } catch {
    throw new CtrError('NotFound', `container ${JSON.stringify(id)} has no runtime spec (no such container, or it never started)`);
  }
}
