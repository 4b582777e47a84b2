// The registry flags shared by the commands that talk to a registry, as in the reference: --plain-http,
// -k/--skip-verify, -u/--user user[:password], --refresh TOKEN, --hosts-dir DIR, --tlscacert FILE,
// --tlscert FILE --tlskey FILE, --http-dump; and ours: --password-stdin, --read-timeout.
// `-u USER` without a password prompts for it on a terminal (no echo), as the reference's ctr-remote does;
// `--password-stdin` reads it from stdin (scripts). Without either, it is a usage error (exit 2).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { invalidArgument } from '../errors.js';
import type { Command } from 'commander';
import type { RegistryOptions } from '../remote/registry-endpoint.js';
import { printErr, type CliIo } from './cli-io.js';
import { intArg } from './number-flags.js';
import { promptPassword, readPasswordStdin } from './password-prompt.js';
import { usageError } from './usage-error.js';

/** Add the registry flags to `cmd`. */
export function addRegistryFlags(cmd: Command): Command {
  cmd
    .option('--plain-http', 'use plain HTTP (automatic for localhost and 127.0.0.1)')
    .option('-k, --skip-verify', 'skip TLS certificate verification');
  addCredentialFlags(cmd);
  cmd.option('--refresh <token>', 'OAuth2 refresh token for the registry\'s authorization server (instead of -u)');
  addTlsAndHostsFlags(cmd);
  return addReadTimeoutFlag(cmd, 'a registry response that sends nothing for this long has stalled and is retried (default 30)');
}

/**
 * Add --hosts-dir, --tlscacert, --tlscert, --tlskey and --http-dump; `about` starts each description where
 * the registry is not what the command is about ("lazy layers: " on run).
 */
export function addTlsAndHostsFlags(cmd: Command, about = ''): Command {
  return cmd
    .option('--hosts-dir <dir>', `${about}containerd's hosts directory: DIR/<registry>/hosts.toml (mirrors, TLS, headers), else DIR/_default`)
    .option('--tlscacert <file>', `${about}PEM CA bundle to trust for the registry`)
    .option('--tlscert <file>', `${about}PEM client certificate for the registry (with --tlskey)`)
    .option('--tlskey <file>', `${about}PEM key of --tlscert`)
    .option('--http-dump', `${about}print every registry request and response (headers; credentials redacted) to stderr`);
}

/** Add `-u` (long name `--user`, or `long` where --user means something else, as on `run`) and `--password-stdin`. */
export function addCredentialFlags(cmd: Command, long = '--user'): Command {
  return cmd
    .option(`-u, ${long} <user[:password]>`, 'registry credentials; without :password it is prompted for on a terminal (default: ~/.docker/config.json)')
    .option('--password-stdin', 'read the password of -u USER from stdin');
}

/** Add `--read-timeout SECONDS`, whole seconds (parsed while commander parses: a bad value is a usage error). */
export function addReadTimeoutFlag(cmd: Command, description: string): Command {
  return cmd.option('--read-timeout <seconds>', description, intArg([1, 86_400]));
}

/** What is wrong with `-u` (value `user`) and `--password-stdin` as given, or undefined. */
function credentialFlagsProblem(user: string | undefined, passwordStdin: boolean, stdinIsTTY: boolean, stdinForContainer: boolean): string | undefined {
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
  tlscert?: string;
  tlskey?: string;
  hostsDir?: string;
  httpDump?: boolean;
  refresh?: string;
  /** Seconds (parsed by addReadTimeoutFlag). */
  readTimeout?: number;
}

/** The absolute path of `--hosts-dir DIR`, which must be a directory (a mistyped one would quietly configure nothing). */
async function hostsDirectory(dir: string): Promise<string> {
  const path = resolve(dir);
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw invalidArgument(`--hosts-dir ${dir}: ${e.code === 'ENOENT' ? 'no such directory' : e.message}`);
  });
  if (!st.isDirectory()) throw invalidArgument(`--hosts-dir ${dir}: not a directory`);
  return path;
}

/** What is wrong with the TLS and token flags as given, or undefined. */
function tlsFlagsProblem(flags: RegistryFlagValues): string | undefined {
  if (flags.tlscert !== undefined && flags.tlskey === undefined) return '--tlscert needs --tlskey (the key of the client certificate)';
  if (flags.tlskey !== undefined && flags.tlscert === undefined) return '--tlskey needs --tlscert';
  if (flags.refresh !== undefined && flags.user !== undefined) return '--refresh and -u both give credentials; use one';
  if (flags.refresh === '') return '--refresh wants a token, got an empty one';
  return undefined;
}

/**
 * RegistryOptions from parsed flags; the password of `-u USER` is prompted for on the terminal of `io`, or
 * read from its stdin with `--password-stdin` (`stdinForContainer`: `run -i` gives stdin to the container).
 * A combination that cannot work is a UsageError (exit 2). The password never appears in messages.
 */
export async function registryOptions(
  flags: RegistryFlagValues, io: CliIo, debug?: (line: string) => void, signal?: AbortSignal, stdinForContainer = false,
): Promise<RegistryOptions> {
  const o: RegistryOptions = {};
  if (flags.plainHttp) o.plainHttp = true;
  if (flags.skipVerify) o.skipVerify = true;
  if (flags.tlscacert) o.tlsCaCert = flags.tlscacert;
  if (flags.tlscert) o.tlsCert = flags.tlscert;
  if (flags.tlskey) o.tlsKey = flags.tlskey;
  if (flags.hostsDir) {
    o.hostsDir = await hostsDirectory(flags.hostsDir);
    o.onMirrorFailure = (host, e) => printErr(io, `ctr-remote: warning: mirror ${host} failed, reading from the next host: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (flags.refresh) o.refreshToken = flags.refresh;
  if (flags.readTimeout !== undefined) o.readTimeoutMs = Math.round(flags.readTimeout * 1000);
  if (debug) o.debug = debug;
  if (flags.httpDump) o.httpDump = (text) => printErr(io, text);
  const tlsProblem = tlsFlagsProblem(flags);
  if (tlsProblem) throw usageError(tlsProblem);
  const problem = credentialFlagsProblem(flags.user, flags.passwordStdin === true, io.stdin?.isTTY === true, stdinForContainer);
  if (problem) throw usageError(problem);
  if (flags.user === undefined) return o;
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
