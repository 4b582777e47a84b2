// Drive runc (1.1) for one container: `runc --root R run --bundle B ID` in the foreground, plus
// state/kill/delete for cleanup. https://github.com/opencontainers/runc/blob/v1.1.5/docs/terminals.md
import { access, readdir, readFile, rm } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { CtrError, notFound, unavailable } from '../errors.js';
import { firstLine, runChild, startChild, type ChildRunResult, type ChildStdio } from '../host/child-run.js';
import { detachListeners } from '../host/signal-listeners.js';
import { outputTap } from './output-tap.js';

/**
 * Where the container's stdio goes: inherited from us (default), ignored, captured whole ('pipe'), written
 * straight to an open file descriptor (a detached container's log: it outlives us), or copied to a stream
 * as it arrives.
 */
export type StdioTarget = 'inherit' | 'ignore' | 'pipe' | number | NodeJS.WritableStream;

/** Options of runcRun. */
export interface RuncRunOptions {
  /** runc's state directory (`--root`). */
  stateDir: string;
  bundle: string;
  id: string;
  /** The spec has `process.terminal: true`: runc makes a pty and relays it to our tty (stdin must be a tty). */
  tty?: boolean;
  /** Default: 'ignore' for stdin, 'inherit' for stdout and stderr. */
  stdin?: StdioTarget;
  stdout?: StdioTarget;
  stderr?: StdioTarget;
  /**
   * Called with each stdout line (without its newline) as it arrives, and with an unterminated last line
   * when the output ends. Stdout still goes to its target ('inherit' copies it to our stdout).
   */
  onStdoutLine?: (line: string) => void;
  /**
   * Default true: signals sent to us are the container's while it runs (see runcRun). False: they stay
   * ours, runc gets its own process group unless it shares our terminal, and the caller stops the
   * container through `signal`.
   */
  forwardSignals?: boolean;
  /** runc binary. Default `runc` from PATH. */
  runc?: string;
  /** Aborting kills the container (SIGKILL through runc). */
  signal?: AbortSignal;
  /** Called with runc's pid once it is spawned. */
  onSpawn?: (pid: number) => void;
}

/** The outcome of a run: the container's exit code (128+N when killed by signal N) and captured output. */
export interface RuncRunResult {
  exitCode: number;
  stdout?: string;
  stderr?: string;
}

/** Signals we forward to runc, which forwards them to the container process. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/**
 * Run the container in the foreground and wait for it. While it runs, signals sent to us belong to it:
 * they are forwarded, and the process's other listeners of those signals (e.g. the CLI's abort on
 * SIGINT/SIGTERM) are detached and restored afterwards, so the container decides how to end. runc runs in
 * its own process group unless it needs our terminal (-t, or stdin inherited from a tty), in which case
 * keyboard signals reach it directly and only the others are forwarded (no double delivery). With
 * `forwardSignals: false` our signals stay ours and the caller ends the container through `signal`.
 */
export async function runcRun(o: RuncRunOptions): Promise<RuncRunResult> {
  const log = join(o.bundle, 'runc.log');
  await rm(log, { force: true });
  const stdin = o.stdin ?? 'ignore';
  const sharesTty = o.tty === true || (stdin === 'inherit' && process.stdin.isTTY === true);
  // every output that is kept, copied to a stream or split into lines is read by a tap (output-tap.ts)
  const taps = { stdout: outputTap(o.stdout ?? 'inherit', process.stdout, o.onStdoutLine), stderr: outputTap(o.stderr ?? 'inherit', process.stderr) };
  const { child, done } = startChild(o.runc ?? 'runc', ['--root', o.stateDir, '--log', log, '--log-format', 'json', 'run', '--bundle', o.bundle, o.id], {
    stdio: [childStdio(stdin), taps.stdout ? 'pipe' : childStdio(o.stdout ?? 'inherit'), taps.stderr ? 'pipe' : childStdio(o.stderr ?? 'inherit')],
    detached: !sharesTty,
    passPipes: true,
  });
  if (!child) return notStarted(o.runc ?? 'runc', done);
  if (child.pid !== undefined) o.onSpawn?.(child.pid);
  const tapsDone = Promise.all([taps.stdout?.attach(child.stdout), taps.stderr?.attach(child.stderr)]);
  const giveBackSignals = o.forwardSignals === false ? () => {} : takeSignals((sig) => void child.kill(sig), sharesTty);
  const onAbort = (): void => void runcKill(o.stateDir, o.id, 'KILL', o.runc).catch(() => child.kill('SIGKILL'));
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) onAbort();
  try {
    const r = await done;
    await tapsDone;
    const exitCode = r.exitCode ?? 128 + signalNumber(r.signal);
    if (exitCode !== 0) await throwRuncError(log);
    return { exitCode, ...capture('stdout', taps.stdout?.captured(), o.stdout), ...capture('stderr', taps.stderr?.captured(), o.stderr) };
  } finally {
    giveBackSignals();
    o.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Make our signals the container's (see runcRun): forward them to runc, with the process's other listeners
 * detached; when runc shares our terminal the keyboard ones reach it directly and are only swallowed here.
 * Returns the function that gives them back.
 */
function takeSignals(relay: (sig: NodeJS.Signals) => void, sharesTty: boolean): () => void {
  const keyboardSignals: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];
  const forwarded = sharesTty ? FORWARDED.filter((s) => !keyboardSignals.includes(s)) : FORWARDED;
  const keyboard = (): void => {};
  const restore = detachListeners(FORWARDED);
  for (const sig of forwarded) process.on(sig, relay);
  if (sharesTty) for (const sig of keyboardSignals) process.on(sig, keyboard);
  return () => {
    for (const sig of forwarded) process.off(sig, relay);
    for (const sig of keyboardSignals) process.off(sig, keyboard);
    restore();
  };
}

/** runc's view of one container. */
export interface RuncState {
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
}

/** List the containers runc knows in `stateDir`. */
export async function runcList(stateDir: string, runc = 'runc', signal?: AbortSignal): Promise<RuncState[]> {
  // runc keeps a directory per container under its root and lists those: with none, there is nothing for it
  // to say, and no process to start (25-60 ms at the start of every `run` in a root without containers)
  const entries = await readdir(stateDir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : undefined)); // other errors: runc's to report
  if (entries?.length === 0) return [];
  const r = await runChild(runc, ['--root', stateDir, 'list', '--format', 'json'], { signal });
  if (r.exitCode !== 0) throw unavailable(`runc list --root ${stateDir}: ${firstLine(r.stderr)}`);
  return (JSON.parse(r.stdout || 'null') as RuncState[] | null) ?? [];
}

/** Send a signal (runc name, e.g. KILL or TERM) to the container's process, or with `all` to every process of it. */
export async function runcKill(stateDir: string, id: string, sig: string, runc = 'runc', all = false): Promise<void> {
  const r = await runChild(runc, ['--root', stateDir, 'kill', ...(all ? ['--all'] : []), id, sig]);
  if (r.exitCode === 0) return;
  if (/does not exist|not running|container not running/.test(r.stderr)) throw new CtrError('FailedPrecondition', `container ${id} is not running`);
  throw unavailable(`runc kill ${id} ${sig}: ${firstLine(r.stderr)}`);
}

/** runc's state of container `id`, or undefined when runc does not know it. */
export async function runcState(stateDir: string, id: string, runc = 'runc'): Promise<RuncState | undefined> {
  const r = await runChild(runc, ['--root', stateDir, 'state', id]);
  if (r.exitCode !== 0) {
    if (/does not exist|not exist/.test(r.stderr)) return undefined;
    throw unavailable(`runc state ${id}: ${firstLine(r.stderr)}`);
  }
  return JSON.parse(r.stdout) as RuncState;
}

/** The host pids of every process of container `id` (its init first as runc lists them). */
export async function runcPids(stateDir: string, id: string, runc = 'runc'): Promise<number[]> {
  const r = await runChild(runc, ['--root', stateDir, 'ps', '--format', 'json', id]);
  if (r.exitCode !== 0) throw unavailable(`runc ps ${id}: ${firstLine(r.stderr)}`);
  return (JSON.parse(r.stdout || 'null') as number[] | null) ?? [];
}

/** Options of runcExec. */
export interface RuncExecOptions {
  /** A terminal for the process (our stdin must be one). */
  tty?: boolean;
  /** Attach our stdin. */
  stdin?: boolean;
  cwd?: string;
  /** Extra K=V added to the container process's environment. */
  env?: string[];
  /** `uid[:gid]`. Default: the container process's user. */
  user?: string;
  runc?: string;
}

/**
 * Run `args` in the running container `id` (its namespaces; its process's user, environment and cwd unless
 * given), in the foreground with our stdio; returns the exit code (128+N when killed by signal N).
 */
export async function runcExec(stateDir: string, id: string, args: string[], o: RuncExecOptions = {}): Promise<number> {
  const flags = [
    ...(o.tty ? ['--tty'] : []),
    ...(o.cwd ? ['--cwd', o.cwd] : []),
    ...(o.user ? ['--user', o.user] : []),
    ...(o.env ?? []).flatMap((e) => ['--env', e]),
  ];
  const { child, done } = startChild(o.runc ?? 'runc', ['--root', stateDir, 'exec', ...flags, id, ...args], {
    stdio: [o.stdin || o.tty ? 'inherit' : 'ignore', 'inherit', 'inherit'],
  });
  if (!child) return notStarted(o.runc ?? 'runc', done);
  const giveBack = takeSignals((sig) => void child.kill(sig), o.tty === true || (o.stdin === true && process.stdin.isTTY === true));
  try {
    const r = await done;
    return r.exitCode ?? 128 + signalNumber(r.signal);
  } finally {
    giveBack();
  }
}

/** Delete the container's runc state, killing it first when `force`; a missing container is not an error. */
export async function runcDelete(stateDir: string, id: string, opts: { force?: boolean; runc?: string } = {}): Promise<void> {
  // no state directory, no container for runc to delete: a foreground `runc run` removes its own on exit
  // (a delete would only answer "does not exist", after 15-25 ms of a process at the end of every run)
  if (await access(join(stateDir, id)).then(() => false, (e: NodeJS.ErrnoException) => e.code === 'ENOENT')) return;
  const args = ['--root', stateDir, 'delete', ...(opts.force ? ['--force'] : []), id];
  const r = await runChild(opts.runc ?? 'runc', args);
  if (r.exitCode !== 0 && !/does not exist|not exist/.test(r.stderr)) {
    throw unavailable(`runc delete ${id}: ${firstLine(r.stderr)}`);
  }
}

/** When runc itself failed (as opposed to the container exiting non-zero), turn its logged error into a CtrError. */
async function throwRuncError(log: string): Promise<void> {
  const text = await readFile(log, 'utf8').catch(() => '');
  const errors = text
    .split('\n')
    .flatMap((l) => {
      try {
        const e = JSON.parse(l) as { level?: string; msg?: string };
        return e.level === 'error' || e.level === 'fatal' ? [e.msg ?? ''] : [];
      } catch {
        return [];
      }
    })
    .filter((m) => m !== '');
  const msg = errors.at(-1);
  if (msg === undefined) return;
  const clean = msg.replace(/^runc run failed: /, '');
  if (/exec: .*(no such file or directory|executable file not found)/.test(clean)) throw notFound(clean);
  throw new CtrError('Internal', `runc: ${clean}`);
}

/** A runc that could not be started (no such program, ...): Unavailable, saying why. */
async function notStarted(runc: string, done: Promise<ChildRunResult>): Promise<never> {
  throw unavailable(`cannot start ${runc}: ${(await done).spawnError?.message ?? 'unknown error'}`);
}

/** A target as the child's stdio (a stream target is tapped instead, see outputTap). */
function childStdio(t: StdioTarget): ChildStdio {
  if (typeof t === 'number' || t === 'inherit' || t === 'ignore') return t;
  return 'pipe';
}

function capture(key: 'stdout' | 'stderr', value: unknown, target: StdioTarget | undefined): Record<string, string> {
  return target === 'pipe' ? { [key]: String(value ?? '') } : {};
}

function signalNumber(sig: string | undefined): number {
  return sig ? (constants.signals[sig as NodeJS.Signals] ?? 0) : 0;
}
