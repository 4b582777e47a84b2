// `run -d` and `tasks start`: a container that keeps running after the command returns. The command starts
// a supervisor (this tool again, `ctr-remote supervise ID`, in its own session: the role of containerd's
// shim) and hands it the run over an IPC channel (so registry credentials never appear on a command line);
// the supervisor runs the container as `run` does in the foreground (same claim, same layer service for
// its lazy layers, same teardown), with the output going to a log file, and answers once runc reports the
// container running. Then the command returns and the supervisor stays: it serves the lazy layers, waits
// for the container, records its exit status (task-exit.ts) and takes everything down (the directory too
// with --rm). A SIGTERM (or SIGINT) to the supervisor kills the container (SIGKILL through runc) and tears
// down the same way; a Ctrl-C of the starting command sends it that SIGTERM.
import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { CtrError, isCtrError, unavailable, unsupported, type ErrorCode } from '../errors.js';
import { selfArgv } from '../host/self-command.js';
import type { RegistryOptions } from '../remote/registry-endpoint.js';
import { cleanupStaleContainers } from '../runtime/cleanup.js';
import { checkContainerId, containerPaths, type ContainerPaths } from '../runtime/container-paths.js';
import { readDetachedRecord, writeDetachedRecord } from '../runtime/detached-record.js';
import { openLogFile } from '../runtime/log-file.js';
import { clearTaskExit, writeTaskExit } from '../runtime/task-exit.js';
import type { Context } from './context.js';
import { runContainer, type RunOptions } from './run.js';

/** What of RunOptions travels to the supervisor: data only (structured clone), no stdio, callbacks or signal. */
export type DetachedRunOptions = Omit<
  RunOptions,
  'signal' | 'onSpec' | 'onSpawn' | 'onImage' | 'onStarted' | 'onExited' | 'onAccess' | 'onWarning' | 'stdout' | 'stderr' | 'tty' | 'stdin' | 'killOnAbort' | 'forwardSignals' | 'registry' | 'log' | 'restart'
> & {
  registry?: Omit<RegistryOptions, 'debug' | 'httpDump' | 'onProgress' | 'onMirrorFailure'>;
};

/** The run a supervisor is handed. */
export interface DetachedRequest {
  ref: string;
  id: string;
  options: DetachedRunOptions;
  /** The file that gets the container's output (and the supervisor's own warnings and errors). */
  log: string;
  /** Start the existing stopped container again (tasks start) instead of a new one. */
  restart?: boolean;
}

/** What the supervisor answers once, before the command returns. */
export type SupervisorAnswer = { type: 'started'; pid: number } | { type: 'failed'; code: ErrorCode; message: string };

/** The supervisor's side of the channel (the CLI makes it from process.send / 'message'). */
export interface SupervisorChannel {
  /** The request (the first message). */
  request(): Promise<DetachedRequest>;
  /** Answer, and close the channel (the command that started us goes on without us). */
  answer(a: SupervisorAnswer): void;
}

/** How a supervisor is started (tests may point it at another build). Default: this tool again. */
export interface SupervisorLauncher {
  argv?: string[];
}

/** A started detached container. */
export interface DetachedStart {
  id: string;
  /** Host pid of its init (0 when it had already exited by the time it was seen running). */
  pid: number;
  /** Its output file. */
  log: string;
  /** The supervisor's pid. */
  supervisor: number;
}

/** Start container `id` from image `ref` detached (see module comment); resolves once it runs. Root only. */
export async function runDetached(ctx: Context, ref: string, id: string, o: RunOptions & { log?: string; launcher?: SupervisorLauncher } = {}): Promise<DetachedStart> {
  if (process.getuid?.() !== 0) throw unsupported('run needs root: it mounts overlayfs (and FUSE for lazy layers) and starts containers with runc');
  const paths = containerPaths(ctx.paths, checkContainerId(id));
  await ctx.secure();
  await cleanupStaleContainers(ctx.paths, o.runc ? { runc: o.runc } : {}); // a crashed --rm run's leftovers do not hold the ID
  if (await exists(paths.dir)) throw new CtrError('Conflict', `container ${JSON.stringify(id)} already exists (${paths.dir}); remove it (containers rm) or use another ID`);
  const log = o.log ?? paths.log;
  if (o.log !== undefined) closeSync(openLogFile(o.log)); // a path that cannot be our log fails here, before anything is set up
  return startSupervisor(ctx, { ref, id, options: detachedOptions(o), log }, o.launcher, o.signal);
}

/**
 * Start the stopped container `id` again, detached, in its kept directory (its writes stay): the image,
 * log and layer settings come from its record; registry options may be given again. Root only.
 */
export async function startDetached(ctx: Context, id: string, o: { registry?: RegistryOptions; launcher?: SupervisorLauncher; signal?: AbortSignal } = {}): Promise<DetachedStart> {
  if (process.getuid?.() !== 0) throw unsupported('tasks start needs root: it mounts overlayfs (and FUSE for lazy layers) and starts containers with runc');
  const paths = containerPaths(ctx.paths, checkContainerId(id));
  const record = await readDetachedRecord(paths);
  if (!record) {
    if (!(await exists(paths.dir))) throw new CtrError('NotFound', `container ${JSON.stringify(id)} does not exist`);
    throw new CtrError('FailedPrecondition', `container ${JSON.stringify(id)} was not started with run -d; only detached containers can be started again`);
  }
  if (record.rootfs) throw new CtrError('FailedPrecondition', `container ${JSON.stringify(id)} ran a --rootfs directory; run it again with run -d --rootfs`);
  const options: DetachedRunOptions = {
    ...(record.snapshotter === 'overlayfs' || record.snapshotter === 'stargz' ? { snapshotter: record.snapshotter } : {}),
    ...(record.cni ? { cni: record.cni } : {}),
    ...(record.manifestDigest ? { manifestDigest: record.manifestDigest } : {}),
    ...(record.platform ? { platform: record.platform } : {}),
    ...(record.noBackgroundFetch ? { noBackgroundFetch: true } : {}),
    ...(record.cacheMaxBytes !== undefined ? { cacheMaxBytes: record.cacheMaxBytes } : {}),
    ...(o.registry ? { registry: dataOnly(o.registry) } : {}),
  };
  return startSupervisor(ctx, { ref: record.image, id, options, log: record.log, restart: true }, o.launcher, o.signal);
}

/**
 * The supervisor's whole life (`ctr-remote supervise`): take the request, run the container with its output
 * in the log, answer once it runs (or failed to start), record its exit, tear down. Returns the exit code.
 */
export async function superviseContainer(ctx: Context, channel: SupervisorChannel, signal?: AbortSignal): Promise<number> {
  const req = await channel.request();
  const paths = containerPaths(ctx.paths, checkContainerId(req.id));
  let answered = false;
  let manifestDigest: string | undefined;
  const answer = (a: SupervisorAnswer): void => {
    if (answered) return;
    answered = true;
    channel.answer(a);
  };
  const note = async (line: string): Promise<void> => {
    try {
      const fd = openLogFile(req.log);
      try {
        writeSync(fd, `ctr-remote: ${line}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // no log to tell (its directory is gone): nothing else to do
    }
  };
  try {
    const result = await runContainer(ctx, req.ref, req.id, {
      ...req.options,
      log: req.log,
      restart: req.restart === true,
      remove: req.options.remove === true,
      onWarning: (line) => void note(`warning: ${line}`),
      // our SIGTERM/SIGINT stop the container (SIGKILL through runc, then teardown); they are not its to handle
      forwardSignals: false,
      onImage: (digest) => (manifestDigest = digest),
      onSpec: (_spec, p) => onSetUp(p, req, manifestDigest),
      onStarted: (pid) => answer({ type: 'started', pid }),
      onExited: (code) => (req.options.remove ? Promise.resolve() : writeTaskExit(paths, code)),
      ...(signal ? { signal } : {}),
    });
    answer({ type: 'started', pid: 0 });
    return result.exitCode;
  } catch (e) {
    const err = isCtrError(e) ? e : new CtrError('Internal', e instanceof Error ? e.message : String(e));
    if (answered) await note(err.message);
    answer({ type: 'failed', code: err.code, message: err.message });
    return 1;
  }
}

/** Before runc starts: the record a listing and a restart read, and no stale exit from an earlier run. */
async function onSetUp(paths: ContainerPaths, req: DetachedRequest, manifestDigest: string | undefined): Promise<void> {
  await clearTaskExit(paths);
  if (req.restart) return;
  const { snapshotter, platform, noBackgroundFetch, cacheMaxBytes, cni, rootfs } = req.options;
  await writeDetachedRecord(paths, {
    image: req.ref,
    ...(manifestDigest ? { manifestDigest } : {}),
    snapshotter: snapshotter ?? 'default',
    log: req.log,
    ...(platform ? { platform } : {}),
    ...(noBackgroundFetch ? { noBackgroundFetch } : {}),
    ...(cacheMaxBytes !== undefined ? { cacheMaxBytes } : {}),
    ...(cni ? { cni } : {}),
    ...(rootfs ? { rootfs } : {}),
    createdAt: new Date().toISOString(),
  });
}

/** Spawn the supervisor, hand it `req`, wait for its answer. */
function startSupervisor(ctx: Context, req: DetachedRequest, launcher: SupervisorLauncher | undefined, signal: AbortSignal | undefined): Promise<DetachedStart> {
  const argv = launcher?.argv ?? selfArgv();
  const child = spawn(argv[0]!, [...argv.slice(1), '--root', ctx.root, 'supervise', req.id], {
    detached: true, // its own session: the terminal's hangup and Ctrl-C are not its business
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    serialization: 'advanced',
  });
  return new Promise<DetachedStart>((resolve, reject) => {
    const done = (f: () => void): void => {
      child.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
      if (child.connected) child.disconnect();
      child.unref();
      f();
    };
    const onExit = (code: number | null, sig: string | null): void =>
      done(() => reject(unavailable(`the supervisor of container ${req.id} ended (${sig ?? `exit ${code}`}) before the container started; see ${req.log}`)));
    const onAbort = (): void => void child.kill('SIGTERM'); // it tears down what it set up, then exits
    child.once('exit', onExit);
    child.once('error', (e) => done(() => reject(unavailable(`cannot start the supervisor of container ${req.id}: ${e.message}`))));
    child.on('message', (m: SupervisorAnswer) => {
      if (m.type === 'started') done(() => resolve({ id: req.id, pid: m.pid, log: req.log, supervisor: child.pid ?? 0 }));
      else done(() => reject(new CtrError(m.code, m.message)));
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    child.send(req);
  });
}

/** The data of RunOptions (see DetachedRunOptions). */
function detachedOptions(o: RunOptions): DetachedRunOptions {
  const { signal: _s, onSpec: _a, onSpawn: _b, onImage: _oi, onStarted: _j, onExited: _k, onAccess: _c, onWarning: _d, stdout: _e, stderr: _f, tty: _g, stdin: _h, killOnAbort: _i, forwardSignals: _fs, registry, log: _l, restart: _r, ...data } = o;
  const { launcher: _m, ...rest } = data as typeof data & { launcher?: unknown };
  return { ...rest, ...(registry ? { registry: dataOnly(registry) } : {}) };
}

function dataOnly(r: RegistryOptions): DetachedRunOptions['registry'] {
  const { debug: _d, httpDump: _h, onProgress: _p, onMirrorFailure: _m, ...data } = r;
  return data;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}
