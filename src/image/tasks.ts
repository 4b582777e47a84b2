// `tasks ls | kill | start | exec | ps | attach | rm`: the running process of each container (its "task",
// in containerd's words), driven through runc's state directory of the root. A task runs while its
// container's owner (supervisor or foreground run) lives; a stopped one keeps its exit status until
// `tasks rm` or a new start.
import { open, stat } from 'node:fs/promises';
import { CtrError } from '../errors.js';
import type { RegistryOptions } from '../remote/registry-endpoint.js';
import { checkContainerId, containerPaths } from '../runtime/container-paths.js';
import { readDetachedRecord } from '../runtime/detached-record.js';
import { ownerAlive, readOwner } from '../runtime/owner.js';
import { runcExec, runcKill, runcPids, type RuncExecOptions } from '../runtime/runc.js';
import { clearTaskExit, readTaskExit, type TaskExit } from '../runtime/task-exit.js';
import { getContainer, listContainers, stopRunning, type ContainerInfo, type ContainersOptions } from './containers.js';
import type { Context } from './context.js';
import { startDetached } from './detached-run.js';

/** Signal names runc takes (without SIG), or numbers. */
const SIGNAL = /^(SIG)?([A-Z][A-Z0-9+-]*|\d{1,2})$/;

/** The tasks of the root: every container with its task's state. */
export async function listTasks(ctx: Context, o: ContainersOptions = {}): Promise<ContainerInfo[]> {
  return listContainers(ctx, o);
}

/** Send `signal` (TERM, SIGTERM, 15, ...) to the task's init, or with `all` to all its processes. */
export async function killTask(ctx: Context, id: string, signal = 'SIGTERM', o: ContainersOptions & { all?: boolean } = {}): Promise<void> {
  const m = SIGNAL.exec(signal.toUpperCase());
  if (!m) throw new CtrError('InvalidArgument', `invalid signal ${JSON.stringify(signal)}: use a name (TERM, SIGKILL) or a number`);
  await requireRunning(ctx, id, o);
  await runcKill(ctx.paths.runc, id, m[2]!, o.runc, o.all === true);
}

/** The host pids of the task's processes. */
export async function taskPids(ctx: Context, id: string, o: ContainersOptions = {}): Promise<number[]> {
  await requireRunning(ctx, id, o);
  return runcPids(ctx.paths.runc, id, o.runc);
}

/** Options of execInTask. */
export interface ExecOptions extends ContainersOptions, Omit<RuncExecOptions, 'runc'> {
  /** The exec's name (`--exec-id`), unique among the task's execs (as containerd requires). */
  execId: string;
}

/** Run `args` in the running task, in the foreground with our stdio; returns its exit code. */
export async function execInTask(ctx: Context, id: string, args: string[], o: ExecOptions): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/.test(o.execId)) throw new CtrError('InvalidArgument', `invalid exec ID ${JSON.stringify(o.execId)}: use 1-76 of [A-Za-z0-9_.-]`);
  if (args.length === 0) throw new CtrError('InvalidArgument', 'exec needs a command to run');
  await requireRunning(ctx, id, o);
  const { execId: _e, signal: _s, runc, ...exec } = o;
  return runcExec(ctx.paths.runc, id, args, { ...exec, ...(runc ? { runc } : {}) });
}

/**
 * Copy the task's output (its log, from now on) to `out` until the task stops; returns its exit, undefined
 * when that is not known. An abort (Ctrl-C) only detaches: the task goes on.
 */
export async function attachTask(ctx: Context, id: string, out: NodeJS.WritableStream, o: ContainersOptions & { from?: number } = {}): Promise<TaskExit | undefined> {
  const info = await getContainer(ctx, id, o);
  if (!info.log) throw new CtrError('FailedPrecondition', `container ${id} was not started with run -d: its output is not kept`);
  if (info.task.status === 'stopped' && o.from === undefined) return info.task.exit;
  const paths = containerPaths(ctx.paths, id);
  const owner = await readOwner(paths);
  const file = await open(info.log, 'r');
  try {
    let pos = o.from ?? (await file.stat()).size;
    const buf = Buffer.alloc(64 << 10);
    const drain = async (): Promise<void> => {
      for (;;) {
        const { bytesRead } = await file.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) return;
        pos += bytesRead;
        out.write(Buffer.from(buf.subarray(0, bytesRead)));
      }
    };
    while (!o.signal?.aborted && (await ownerAlive(owner))) {
      await drain();
      await new Promise((r) => setTimeout(r, 100));
    }
    await drain();
  } finally {
    await file.close();
  }
  return o.signal?.aborted ? undefined : readTaskExit(paths);
}

/**
 * Start the stopped detached container `id` again (image/detached-run.ts startDetached); with `attachTo`,
 * follow its output from its start until it exits and return that exit.
 */
export async function startTask(
  ctx: Context, id: string, o: ContainersOptions & { registry?: RegistryOptions; attachTo?: NodeJS.WritableStream } = {},
): Promise<TaskExit | undefined> {
  const record = await readDetachedRecord(containerPaths(ctx.paths, checkContainerId(id)));
  const from = record ? await stat(record.log).then((s) => s.size, () => 0) : 0;
  await startDetached(ctx, id, { ...(o.registry ? { registry: o.registry } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  return o.attachTo ? attachTask(ctx, id, o.attachTo, { ...o, from }) : undefined;
}

/**
 * Delete a task: a stopped one's exit status is forgotten (the container stays); a running one is refused
 * unless `force`, which kills it first. Returns the exit it had, if known.
 */
export async function deleteTask(ctx: Context, id: string, o: ContainersOptions & { force?: boolean } = {}): Promise<TaskExit | undefined> {
  const info = await getContainer(ctx, id, o);
  if (info.task.status !== 'stopped') {
    if (!o.force) throw new CtrError('FailedPrecondition', `task ${id} is ${info.task.status}; kill it first or use --force`);
    await stopRunning(ctx, id, o);
  }
  const paths = containerPaths(ctx.paths, id);
  const exit = await readTaskExit(paths);
  if (await stat(paths.dir).then(() => true, () => false)) await clearTaskExit(paths);
  return exit;
}

async function requireRunning(ctx: Context, id: string, o: ContainersOptions): Promise<ContainerInfo> {
  const info = await getContainer(ctx, id, o);
  if (info.task.status !== 'running' && info.task.status !== 'paused') throw new CtrError('FailedPrecondition', `task ${id} is ${info.task.status}, not running`);
  return info;
}
