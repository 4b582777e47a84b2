// Running a child process and waiting for its end, over node:child_process: runc, mount(8) and umount(8),
// CNI plugins. What a caller needs and no more: each stdio inherited, ignored, an open file descriptor or a
// pipe; piped stdout and stderr kept as text (bounded); text written to stdin; an abort signal that kills
// the child (SIGTERM, then SIGKILL if it is still there 5 s later) and is reported as `canceled`. Never
// throws: a child that could not be started has a `spawnError`, one killed by a signal a `signal`, else an
// `exitCode`.
//
// execa did this before; loading it cost `run` 12-13 ms of a warm start (30+ cold, with its dependencies) and
// its modules were a tenth of the bundle every process keeps (docs/DECISIONS.md, "Dependencies").
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/** Where one stdio stream of the child goes. */
export type ChildStdio = 'inherit' | 'ignore' | 'pipe' | number;

/** Options of startChild and runChild. */
export interface ChildRunOptions {
  /** stdin, stdout, stderr. Default: stdin ignored, stdout and stderr piped and kept. */
  stdio?: readonly [ChildStdio, ChildStdio, ChildStdio];
  /** Written to the child's stdin, which is then closed (stdin must be 'pipe'). */
  input?: string;
  /** The child's whole environment. Default: ours. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** In its own process group. Default false. */
  detached?: boolean;
  /** Kills the child with SIGTERM (nothing is started when it is aborted already); the result says `canceled`. */
  signal?: AbortSignal | undefined;
  /** After an abort's SIGTERM, SIGKILL when the child has not ended within this many ms. Default 5000. */
  forceKillAfterMs?: number;
  /** Piped stdout and stderr are read by the caller from `child`, not kept. Default false. */
  passPipes?: boolean;
}

/** How a child ended. */
export interface ChildRunResult {
  /** Its exit code; undefined when a signal ended it or it never started. */
  exitCode?: number;
  /** The signal that ended it. */
  signal?: NodeJS.Signals;
  /** Why it could not be started (e.g. ENOENT: no such program). */
  spawnError?: Error;
  /** The abort signal was what ended it. */
  canceled: boolean;
  /** Its piped stdout and stderr as text (empty when not piped or passed on), each at most MAX_KEPT bytes. */
  stdout: string;
  stderr: string;
}

/** Bytes of each piped output kept: runc's JSON answers and tools' error lines are far smaller. */
const MAX_KEPT = 16 << 20;

/** Start `cmd args`; the child (none when it could not be started: see the outcome's spawnError), and its outcome once it has ended and its pipes have closed. */
export function startChild(cmd: string, args: readonly string[], o: ChildRunOptions = {}): { child: ChildProcess | undefined; done: Promise<ChildRunResult> } {
  const none = { stdout: '', stderr: '' };
  if (o.signal?.aborted) return { child: undefined, done: Promise.resolve({ canceled: true, ...none }) };
  const stdio = o.stdio ?? ['ignore', 'pipe', 'pipe'];
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      stdio: [...stdio] as StdioOptions,
      ...(o.env ? { env: o.env } : {}),
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.detached ? { detached: true } : {}),
    });
  } catch (e) {
    // spawn throws for some failures rather than emitting them (an argument list over the kernel's limit, a NUL in an argument)
    return { child: undefined, done: Promise.resolve({ spawnError: e instanceof Error ? e : new Error(String(e)), canceled: false, ...none }) };
  }
  if (child.pid === undefined) {
    // not started (no such program, ...): known at once, the error event follows on the next tick
    const failed = child;
    return { child: undefined, done: new Promise((resolve) => failed.once('error', (e) => resolve({ spawnError: e, canceled: false, ...none }))) };
  }
  const kept = { stdout: keep(o.passPipes ? null : child.stdout), stderr: keep(o.passPipes ? null : child.stderr) };
  let canceled = false;
  let forceKill: NodeJS.Timeout | undefined;
  const onAbort = () => {
    canceled = true;
    child.kill('SIGTERM');
    forceKill = setTimeout(() => child.kill('SIGKILL'), o.forceKillAfterMs ?? FORCE_KILL_AFTER_MS).unref();
  };
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (child.stdin) {
    child.stdin.on('error', () => undefined); // a child that exits without reading its input
    child.stdin.end(o.input ?? '');
  }
  child.on('error', () => undefined); // started: a later error (a kill that failed) changes nothing
  const done = new Promise<ChildRunResult>((resolve) => {
    child.once('close', (code, sig) => {
      clearTimeout(forceKill);
      o.signal?.removeEventListener('abort', onAbort);
      resolve({
        ...(code !== null ? { exitCode: code } : {}),
        ...(sig !== null ? { signal: sig } : {}),
        canceled,
        stdout: kept.stdout.text(),
        stderr: kept.stderr.text(),
      });
    });
  });
  return { child, done };
}

/** How long an aborted child has to end after SIGTERM before it gets SIGKILL (execa's default). */
const FORCE_KILL_AFTER_MS = 5_000;

/** Run `cmd args` to its end (see startChild). */
export function runChild(cmd: string, args: readonly string[], o: ChildRunOptions = {}): Promise<ChildRunResult> {
  return startChild(cmd, args, o).done;
}

/** The first line of a child's output, trimmed (what its error messages say first). */
export function firstLine(text: string): string {
  return text.split('\n')[0]?.trim() ?? '';
}

function keep(stream: NodeJS.ReadableStream | null): { text(): string } {
  if (!stream) return { text: () => '' };
  const parts: Buffer[] = [];
  let size = 0;
  stream.on('data', (b: Buffer) => {
    if (size >= MAX_KEPT) return;
    const part = b.subarray(0, MAX_KEPT - size);
    parts.push(part);
    size += part.length;
  });
  stream.on('error', () => undefined);
  return { text: () => Buffer.concat(parts).toString('utf8') };
}
