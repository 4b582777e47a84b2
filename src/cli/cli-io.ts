// The one output object every command writes through: stdout for data, stderr for progress, warnings
// and errors (and stdin, read only for a password). Injected, so tests run the CLI in-process with captured streams.
import { isatty } from 'node:tty';
import type { CliInput } from './password-prompt.js';

/** Streams and terminal facts of one CLI run. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** stderr is a terminal: progress is drawn with ora instead of printed as plain lines. */
  isTTY: boolean;
  /** Colors allowed (a TTY and NO_COLOR unset). */
  color: boolean;
  env: NodeJS.ProcessEnv;
  /**
   * Standard input, opened only to read a registry password (`-u USER` prompt, `--password-stdin`): opening
   * process.stdin on a pipe would make it non-blocking for the containers that inherit it. Default: none
   * (not a terminal, empty).
   */
  stdin?: { isTTY: boolean; open: () => CliInput };
}

/** The process's own streams. */
export function processIo(): CliIo {
  // A pty without a size (columns 0) would make ora's line accounting loop forever: treat it as no TTY.
  const isTTY = process.stderr.isTTY === true && (process.stderr.columns ?? 0) > 0;
  const noColor = process.env['NO_COLOR'] !== undefined && process.env['NO_COLOR'] !== '';
  return { stdout: process.stdout, stderr: process.stderr, isTTY, color: isTTY && !noColor, env: process.env, stdin: { isTTY: isatty(0), open: () => process.stdin } };
}

/** Write one line of data to stdout. */
export function printLine(io: CliIo, line: string): void {
  io.stdout.write(`${line}\n`);
}

/** Write a value as JSON to stdout (the only output of `--json`). */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Write a diagnostic line to stderr. */
export function printErr(io: CliIo, line: string): void {
  io.stderr.write(`${line}\n`);
}
