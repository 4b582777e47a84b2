// The registry flags shared by the commands that talk to a registry, as in the reference: --plain-http,
// -k/--skip-verify, -u/--user user[:password], --tlscacert FILE; and ours: --password-stdin, --read-timeout.
// `-u USER` without a password prompts for it on a terminal (no echo), as the reference's ctr-remote does;
// `--password-stdin` reads it from stdin (scripts). Without either, it is a usage error (exit 2) checked before
// the command runs.
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import type { RegistryOptions } from '../remote/registry-endpoint.js';
import type { CliIo } from './cli-io.js';
import { secondsFlag } from './number-flags.js';
import { promptPassword, readPasswordStdin } from './password-prompt.js';

/** Add the registry flags to `cmd`; `io` tells whether a password can be prompted for. */
export function addRegistryFlags(cmd: Command, io: CliIo): Command {
  cmd
    .option('--plain-http', 'use plain HTTP (automatic for localhost and 127.0.0.1)')
    .option('-k, --skip-verify', 'skip TLS certificate verification');
  addCredentialFlags(cmd, io);
  return cmd
    .option('--tlscacert <file>', 'PEM CA bundle to trust for the registry')
    .option('--read-timeout <seconds>', 'a registry response that sends nothing for this long has stalled and is retried (default 30)');
}

/**
 * Add `-u` (long name `--user`, or `long` where --user means something else, as on `run`) and
 * `--password-stdin`, with their usage check before the action.
 */
export function addCredentialFlags(cmd: Command, io: CliIo, long = '--user'): Command {
  cmd
    .option(`-u, ${long} <user[:password]>`, 'registry credentials; without :password it is prompted for on a terminal (default: ~/.docker/config.json)')
    .option('--password-stdin', 'read the password of -u USER from stdin');
  const key = long.replace(/^--/, '').replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
  return cmd.hook('preAction', (_self, action) => {
    const o = action.opts<Record<string, unknown>>();
    const problem = credentialFlagsProblem(o[key] as string | undefined, o['passwordStdin'] === true, io.stdin?.isTTY === true, o['interactive'] === true);
    if (problem) action.error(problem, { exitCode: 2, code: 'ctr-remote.usage' });
  });
}

/** What is wrong with `-u` (value `user`) and `--password-stdin` given together as they are, or undefined. */
export function credentialFlagsProblem(user: string | undefined, passwordStdin: boolean, stdinIsTTY: boolean, stdinForContainer: boolean): string | undefined {
  if (user === undefined) return passwordStdin ? '--password-stdin needs -u USER' : undefined;
  if (user === '' || user.startsWith(':')) return '-u wants USER or USER:PASSWORD, got an empty user name';
  const hasPassword = user.includes(':');
  if (passwordStdin && hasPassword) return '-u USER:PASSWORD and --password-stdin both give the password; use one';
  if (passwordStdin && stdinForContainer) return '--password-stdin reads stdin, which -i gives to the container; use -u USER:PASSWORD';
  if (!hasPassword && !passwordStdin && !stdinIsTTY) {
    return `-u ${user} has no password and stdin is not a terminal to prompt for it: use -u ${user}:PASSWORD or --password-stdin`;
  }
  return undefined;
}

/** The registry flag values as commander parses them. */
export interface RegistryFlagValues {
  plainHttp?: boolean;
  skipVerify?: boolean;
  user?: string;
  passwordStdin?: boolean;
  tlscacert?: string;
  readTimeout?: string;
}

/**
 * RegistryOptions from parsed flags; the password of `-u USER` is prompted for on the terminal of `io`, or
 * read from its stdin with `--password-stdin`. The password never appears in messages.
 */
export async function registryOptions(flags: RegistryFlagValues, io: CliIo, debug?: (line: string) => void, signal?: AbortSignal): Promise<RegistryOptions> {
  const o: RegistryOptions = {};
  if (flags.plainHttp) o.plainHttp = true;
  if (flags.skipVerify) o.skipVerify = true;
  if (flags.tlscacert) o.tlsCaCert = flags.tlscacert;
  if (flags.readTimeout !== undefined) o.readTimeoutMs = Math.round(secondsFlag(flags.readTimeout, '--read-timeout', [0.001, 86_400]) * 1000);
  if (debug) o.debug = debug;
  if (flags.user === undefined) return o;
  const problem = credentialFlagsProblem(flags.user, flags.passwordStdin === true, io.stdin?.isTTY === true, false);
  if (problem) throw invalidArgument(problem);
  const colon = flags.user.indexOf(':');
  if (colon > 0) {
    o.username = flags.user.slice(0, colon);
    o.password = flags.user.slice(colon + 1);
    return o;
  }
  const stdin = io.stdin!.open();
  o.username = flags.user;
  o.password = flags.passwordStdin ? await readPasswordStdin(stdin, signal) : await promptPassword(stdin, io.stderr, 'Password: ', signal);
  return o;
}
