// Running the CLI in tests: in-process through runCli with captured streams (fast), or as a real
// process through `node --import tsx src/cli/main.ts` (exit codes, signals).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/run-cli.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in this process (not a TTY, no color). */
export async function cli(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runCli(args, { stdout, stderr, isTTY: false, color: false, env });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * Why the CLI cannot run from this checkout as user nobody (uid 65534), as the tests of what a user
 * without root sees do; false when it can (or when this process is not root, and runs them as itself). A
 * checkout below a private directory (`mktemp -d` makes 0700 ones) is out of nobody's reach.
 */
export const nobodyCannotRunCli: string | false = (() => {
  if (process.getuid?.() !== 0) return false;
  const tsx = fileURLToPath(new URL('../../node_modules/tsx/package.json', import.meta.url));
  try {
    execFileSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', 'test -r "$1" && test -r "$2"', 'sh', MAIN, tsx], { stdio: 'ignore' });
    return false;
  } catch {
    return `user nobody cannot read this checkout (${MAIN}): a directory above it is private, so the CLI cannot run as nobody from here`;
  }
})();

/** Start the CLI as a child process (stdout/stderr piped; `env` default: ours). */
export function spawnCli(args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
}

/** Run the CLI as a child process to completion. */
export async function cliProcess(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliRun> {
  const child = spawnCli(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += String(c)));
  child.stderr!.on('data', (c) => (stderr += String(c)));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}
