// Running a system command (mount, umount) for its exit status: no throw on failure (the caller decides
// what a non-zero exit means), an abort is a CtrError('Aborted') naming what was being done.
import { execa } from 'execa';
import { CtrError } from '../errors.js';

/** What a finished command reported. */
export interface CommandResult {
  exitCode: number;
  /** The first line of its stderr, trimmed. */
  error: string;
}

/** Run `cmd args` (stdin closed) and report how it ended; throws Aborted when `signal` cancels it. */
export async function runCommand(cmd: string, args: string[], what: string, o: { signal?: AbortSignal | undefined; cwd?: string | undefined } = {}): Promise<CommandResult> {
  if (o.signal?.aborted) throw new CtrError('Aborted', `${what}: aborted`);
  const r = await execa(cmd, args, { reject: false, cancelSignal: o.signal, stdin: 'ignore', ...(o.cwd ? { cwd: o.cwd } : {}) });
  // execa 9 takes the abort signal as `cancelSignal` and, with `reject: false`, reports a cancel as `isCanceled`
  if (r.isCanceled) throw new CtrError('Aborted', `${what}: aborted`);
  return { exitCode: r.exitCode ?? -1, error: String(r.stderr).split('\n')[0]?.trim() ?? '' };
}
