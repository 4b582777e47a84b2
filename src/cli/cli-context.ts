// What every command action gets: the output object, the global flags, a cancellation signal, and
// `run`, which turns a thrown error into the one-line report and exit code 1 (2 for a usage error).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isCtrError, withContext } from '../errors.js';
import { formatReference, parseReference } from '../remote/reference.js';
import { defaultRoot } from '../store/default-root.js';
import { printErr, type CliIo } from './cli-io.js';
import { errorLine } from './error-line.js';
import { isUsageError } from './usage-error.js';

/** Flags of the top-level command, available to every subcommand. */
export interface GlobalOptions {
  /** `--root DIR` made absolute (against the working directory), default defaultRoot(). */
  root: string;
  /** `--debug`: stack traces and request logs on stderr. */
  debug: boolean;
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

  constructor(
    readonly io: CliIo,
    readonly signal: AbortSignal,
  ) {}

  /** The global flags as seen from `cmd`. */
  globals(cmd: Command): GlobalOptions {
    const o = cmd.optsWithGlobals<{ root?: string; debug?: boolean }>();
    // Resolved here, once: mount(8), overlayfs options and runc take the paths below the root as they
    // are, and a relative one would be taken against another directory (or refused).
    return { root: resolve(o.root ?? defaultRoot(this.io.env)), debug: o.debug === true };
  }

  /** A `--debug` line logger (undefined without --debug). */
  debugLog(cmd: Command): ((line: string) => void) | undefined {
    return this.globals(cmd).debug ? (line) => printErr(this.io, `debug: ${line}`) : undefined;
  }

  /**
   * Run an action; on failure print `ctr-remote: <op> <target>: <message>` (one line, long messages cut;
   * whole, with the stack, with --debug) and set exit 1, or 2 for a UsageError.
   */
  async run(cmd: Command, op: string, target: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (e) {
      this.fail(cmd, `${op}${target ? ` ${target}` : ''}`, e);
    }
  }

  /** Report a failure of `context` (see run). */
  fail(cmd: Command, context: string, e: unknown): void {
    const err = withContext(context, e);
    const line = `ctr-remote: ${dedupe(err.message, context)}`;
    const debug = this.globals(cmd).debug;
    printErr(this.io, debug ? line : errorLine(line));
    if (debug) printErr(this.io, debugDetails(e));
    this.exitCode = isUsageError(e) ? 2 : 1;
  }
}

/** Drop a repeated "<verb...> <target>: " that a lower layer already put after our own context. */
function dedupe(message: string, context: string): string {
  const head = `${context}: `;
  const target = context.split(' ').slice(1).join(' ');
  if (!message.startsWith(head) || !target) return message;
  const rest = message.slice(head.length);
  const m = /^(?:[a-z-]+ )+(\S+): /.exec(rest);
  return m?.[1] !== undefined && sameTarget(m[1], target) ? head + rest.slice(m[0].length) : message;
}

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
