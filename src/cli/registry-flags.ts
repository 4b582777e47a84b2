// The registry flags shared by pull and push, as in the reference: --plain-http, -k/--skip-verify,
// -u/--user user[:pass], --tlscacert FILE.
import type { Command } from 'commander';
import { invalidArgument } from '../errors.js';
import type { RegistryOptions } from '../remote/registry-endpoint.js';

/** Add the registry flags to `cmd`. */
export function addRegistryFlags(cmd: Command): Command {
  return cmd
    .option('--plain-http', 'use plain HTTP (automatic for localhost and 127.0.0.1)')
    .option('-k, --skip-verify', 'skip TLS certificate verification')
    .option('-u, --user <user[:password]>', 'registry credentials (default: ~/.docker/config.json)')
    .option('--tlscacert <file>', 'PEM CA bundle to trust for the registry');
}

interface RegistryFlagValues {
  plainHttp?: boolean;
  skipVerify?: boolean;
  user?: string;
  tlscacert?: string;
}

/** RegistryOptions from parsed flags. The password never appears in messages. */
export function registryOptions(flags: RegistryFlagValues, debug?: (line: string) => void): RegistryOptions {
  const o: RegistryOptions = {};
  if (flags.plainHttp) o.plainHttp = true;
  if (flags.skipVerify) o.skipVerify = true;
  if (flags.tlscacert) o.tlsCaCert = flags.tlscacert;
  if (debug) o.debug = debug;
  if (flags.user !== undefined) {
    const colon = flags.user.indexOf(':');
    if (colon <= 0) throw invalidArgument('-u wants user:password (interactive password prompts are not supported)');
    o.username = flags.user.slice(0, colon);
    o.password = flags.user.slice(colon + 1);
  }
  return o;
}
