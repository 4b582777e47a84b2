// Run one command and time it: when it started, when its first stdout byte arrived, when it exited.
import { spawn } from 'node:child_process';

/** Wall-clock times (Date.now() ms) and output of one finished process. */
export interface TimedProcess {
  startedAt: number;
  /** First stdout byte, if any. */
  firstOutputAt?: number;
  exitedAt: number;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Spawn `cmd argv` (stdin closed) and resolve when it exits; never rejects on a non-zero exit. */
export function timedProcess(cmd: string, argv: string[], env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<TimedProcess> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) });
    let firstOutputAt: number | undefined;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      firstOutputAt ??= Date.now();
      stdout += String(d);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ startedAt, firstOutputAt, exitedAt: Date.now(), exitCode, stdout, stderr }));
  });
}

/** Like timedProcess, but throws with the command and its stderr when the exit code is not 0. */
export async function mustRun(cmd: string, argv: string[], env?: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<TimedProcess> {
  const r = await timedProcess(cmd, argv, env, signal);
  if (r.exitCode !== 0) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.exitCode}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return r;
}
