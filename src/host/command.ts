// Running a system command (mount, umount) for its exit status: no throw on failure (the caller decides
// what a non-zero exit means), an abort is a CtrError('Aborted') naming what was being done.
import { CtrError } from '../errors.js';
import { firstLine, runChild } from './child-run.js';

/** What a finished command reported. */
export interface CommandResult {
  exitCode: number;
  /** The first line of its stderr, trimmed (or why it could not be started). */
  error: string;
}

/** Run `cmd args` (stdin closed) and report how it ended; throws Aborted when `signal` cancels it. */
export async function runCommand(cmd: string, args: string[], what: string, o: { signal?: AbortSignal | undefined; cwd?: string | undefined } = {}): Promise<CommandResult> {
  if (o.signal?.aborted) throw new CtrError('Aborted', `${what}: aborted`);
  const r = await runChild(cmd, args, { signal: o.signal, ...(o.cwd ? { cwd: o.cwd } : {}) });
  if (r.canceled) throw new CtrError('Aborted', `${what}: aborted`);
  return { exitCode: r.exitCode ?? -1, error: r.spawnError ? `cannot start ${cmd}: ${r.spawnError.message}` : firstLine(r.stderr) };
}
