// Running a child process and waiting for its end, over node:child_process: runc, mount(8) and umount(8),
// CNI plugins. What a caller needs and no more: each stdio inherited, ignored, an open file descriptor or a
// pipe; piped stdout and stderr kept as text (bounded); text written to stdin; an abort signal that kills
// the child (SIGTERM) and is reported as `canceled`. Never throws: a child that could not be started has a
// `spawnError`, one killed by a signal a `signal`, else an `exitCode`.
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
  /** Kills the child with SIGTERM; the result says `canceled`. */
  signal?: AbortSignal | undefined;
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

/** Start `cmd args`; the child, and its outcome once it has ended and its pipes have closed. */
export function startChild(cmd: string, args: readonly string[], o: ChildRunOptions = {}): { child: ChildProcess; done: Promise<ChildRunResult> } {
  const stdio = o.stdio ?? ['ignore', 'pipe', 'pipe'];
  const child = spawn(cmd, args, {
    stdio: [...stdio] as StdioOptions,
    ...(o.env ? { env: o.env } : {}),
    ...(o.cwd ? { cwd: o.cwd } : {}),
    ...(o.detached ? { detached: true } : {}),
  });
  const kept = { stdout: keep(o.passPipes ? null : child.stdout), stderr: keep(o.passPipes ? null : child.stderr) };
  let canceled = false;
  const onAbort = () => {
    canceled = true;
    child.kill('SIGTERM');
  };
  if (o.signal?.aborted) onAbort();
  else o.signal?.addEventListener('abort', onAbort, { once: true });
  if (child.stdin) {
    child.stdin.on('error', () => undefined); // a child that exits without reading its input
    child.stdin.end(o.input ?? '');
  }
  const done = new Promise<ChildRunResult>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (e) => {
      spawnError = e;
      if (child.pid === undefined) finish(null, null); // never started: no 'close' follows
    });
    child.once('close', (code, sig) => finish(code, sig));
    let finished = false;
    function finish(code: number | null, sig: NodeJS.Signals | null): void {
      if (finished) return;
      finished = true;
      o.signal?.removeEventListener('abort', onAbort);
      resolve({
        ...(code !== null ? { exitCode: code } : {}),
        ...(sig !== null ? { signal: sig } : {}),
        ...(spawnError ? { spawnError } : {}),
        canceled,
        stdout: kept.stdout.text(),
        stderr: kept.stderr.text(),
      });
    }
  });
  return { child, done };
}

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
