// One CLI invocation: parse argv through the commander tree, run the command, map the outcome to an
// exit code (0 ok, 1 failure, 2 usage error, 130 interrupted unless the command says that was its normal end).
import { CommanderError } from 'commander';
import { CliContext, type ModuleLoader } from './cli-context.js';
import type { CliIo } from './cli-io.js';
import { buildProgram } from './program.js';

/** Options of runCli. */
export interface RunCliOptions {
  /** How commands load their library modules; only the argv table test passes one. Default: import them. */
  load?: ModuleLoader;
}

/** Run `argv` (without node and script) with `io`; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo, signal: AbortSignal = new AbortController().signal, options: RunCliOptions = {}): Promise<number> {
  const ctx = new CliContext(io, signal, { argv, ...(options.load ? { load: options.load } : {}) });
  try {
    await buildProgram(ctx, argv).parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
  }
  return signal.aborted && !ctx.abortWasNormalEnd ? 130 : ctx.exitCode;
}
