// What every command action gets: the output object, the global flags, a cancellation signal, the loader of
// its library module, and `run`, which turns a thrown error into the one-line report (with --json also an
// error object on stdout) and exit code 1 (2 for a usage error).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isCtrError, withContext, type ErrorCode, type ErrorContext } from '../errors.js';
import type { Context } from '../image/context.js';
import { formatReference, parseReference } from '../remote/reference.js';
import { defaultRoot } from '../store/default-root.js';
import { printErr, printJson, type CliIo } from './cli-io.js';
import { errorLine } from './error-line.js';
import { isUsageError } from './usage-error.js';

/** Flags of the top-level command, available to every subcommand. */
export interface GlobalOptions {
  /** `--root DIR` made absolute (against the working directory), default defaultRoot(). */
  root: string;
  /** `--debug`: stack traces and request logs on stderr. */
  debug: boolean;
}

/**
 * Loads the library module a command calls, when the command runs: production passes the importer through
 * (`(importer) => importer()`); the argv table test (test/cli/command-table.test.ts) observes the calls.
 */
export type ModuleLoader = <M>(importer: () => Promise<M>) => Promise<M>;

/** Options of a CLI run. */
export interface CliContextOptions {
  /** The arguments as given (without node and script), for usage errors commander reports before parsing all of them. Default: none. */
  argv?: readonly string[];
  /** See ModuleLoader. Default: import the module. */
  load?: ModuleLoader;
}

/** What `--json` prints on stdout when a command fails (docs/DECISIONS.md, "--json errors"). */
export interface JsonError {
  error: {
    code: ErrorCode;
    /** The command's operation ("pull", "rpull", "convert", ...), as at the head of the human line. */
    op: string;
    /** The argument the command was working on, as given (REF, SRC, FILE, ID); null for commands without one. */
    subject: string | null;
    /** The whole message, on one line: the human line without "ctr-remote: " and without the 400-character cut. */
    message: string;
  };
}

/** Shared state of one CLI run. */
export class CliContext {
  /** Process exit code the run ends with. */
  exitCode = 0;
  /**
   * Set by a command for which the abort that ended it was its normal end (`image mount` stopped by
   * `image unmount`): the run exits with `exitCode` instead of 130.
   */
  abortWasNormalEnd = false;
  /** Loads the library module of a command: `await ctx.load(() => import('../../image/...'))` (see ModuleLoader). */
  readonly load: ModuleLoader;
  private readonly argv: readonly string[];
  /** stdout holds one JSON document: set once a command printed its result, after which no error object follows. */
  private jsonPrinted = false;
  private rootContext: Promise<Context> | undefined;

  constructor(
    readonly io: CliIo,
    readonly signal: AbortSignal,
    options: CliContextOptions = {},
  ) {
    this.argv = options.argv ?? [];
    this.load = options.load ?? ((importer) => importer());
  }

  /** The global flags as seen from `cmd`. */
  globals(cmd: Command): GlobalOptions {
    const o = cmd.optsWithGlobals<{ root?: string; debug?: boolean }>();
    // Resolved here, once: mount(8), overlayfs options and runc take the paths below the root as they
    // are, and a relative one would be taken against another directory (or refused).
    return { root: resolve(o.root ?? defaultRoot(this.io.env)), debug: o.debug === true };
  }

  /**
   * The context of `--root` (image/context.ts) that the command's library calls take: made once, on first
   * use (its module is loaded then, not at start-up).
   */
  context(cmd: Command): Promise<Context> {
    const root = this.globals(cmd).root;
    this.rootContext ??= import('../image/context.js').then((m) => new m.Context(root));
    return this.rootContext;
  }

  /** A `--debug` line logger (undefined without --debug). */
  debugLog(cmd: Command): ((line: string) => void) | undefined {
    return this.globals(cmd).debug ? (line) => printErr(this.io, `debug: ${line}`) : undefined;
  }

  /** Print a command's `--json` result on stdout. */
  printJson(value: unknown): void {
    this.jsonPrinted = true;
    printJson(this.io, value);
  }

  /**
   * Run an action; on failure print `ctr-remote: <op> <target>: <message>` (one line, long messages cut;
   * whole, with the stack, with --debug), with --json also the error object on stdout, and set exit 1, or
   * 2 for a UsageError.
   */
  async run(cmd: Command, op: string, target: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (e) {
      this.fail(cmd, { op, subject: target === '' ? undefined : target }, e);
    }
  }

  /** Report a failure of the command `cmd` about `context` (see run). */
  fail(cmd: Command, context: ErrorContext, e: unknown): void {
    // A lower layer's error about the same image (named as the user typed it or normalized) is not named twice.
    const err = withContext(context, e, sameTarget);
    const line = `ctr-remote: ${err.message}`;
    const debug = this.globals(cmd).debug;
    printErr(this.io, debug ? line : errorLine(line));
    if (debug) printErr(this.io, debugDetails(e));
    if (this.jsonRequested(cmd) && !this.jsonPrinted) this.printJson(jsonError(err.code, context, err.message));
    this.exitCode = isUsageError(e) ? 2 : 1;
  }

  /** Report a usage error commander found in the arguments of `cmd` (the human line is commander's, see program.ts). */
  failUsage(cmd: Command, message: string): void {
    if (this.jsonRequested(cmd)) this.printJson(jsonError('InvalidArgument', { op: cmd.name() }, message));
  }

  /** True when `cmd` takes --json and was given it (also when commander stopped parsing before reaching it). */
  private jsonRequested(cmd: Command): boolean {
    if (!cmd.options.some((o) => o.long === '--json')) return false;
    if (cmd.getOptionValue('json') === true) return true;
    const end = this.argv.indexOf('--');
    return (end < 0 ? this.argv : this.argv.slice(0, end)).includes('--json');
  }
}

/** The `--json` error object (see JsonError). */
function jsonError(code: ErrorCode, context: ErrorContext, message: string): JsonError {
  return { error: { code, op: context.op, subject: context.subject ?? null, message: errorLine(message, Infinity) } };
}

/** Whether an inner error's subject names the command's target: the same text, or the same image reference. */
function sameTarget(inner: string, target: string): boolean {
  if (inner === target) return true;
  try {
    return formatReference(parseReference(inner)) === formatReference(parseReference(target));
  } catch {
    return false;
  }
}

/** The stack and cause chain of an error, for --debug. */
function debugDetails(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur !== undefined && depth < 8; depth++) {
    if (cur instanceof Error) {
      parts.push(`${depth ? 'caused by: ' : ''}${cur.stack ?? cur.message}${isCtrError(cur) ? ` [code ${cur.code}]` : ''}`);
      cur = cur.cause;
    } else {
      parts.push(`caused by: ${String(cur)}`);
      break;
    }
  }
  return parts.join('\n');
}
