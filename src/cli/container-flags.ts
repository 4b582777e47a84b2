// The flags that shape a container's process, shared by `run` and `image optimize` (whose workload is a
// container): --env, --env-file, --cwd, --user, --mount, --net-host, and its network: --cni (with
// --cni-plugin-conf-dir, --cni-plugin-dir), --dns-nameservers, --dns-search-domains, --dns-options,
// --add-hosts (as the reference's optimize). --env, --mount and the network values are checked while
// commander parses (a bad one is a usage error, exit 2); the env file is read by the command.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CniOptions } from '../runtime/cni.js';
import { checkEnvFlag } from '../runtime/env.js';
import type { ExtraHost, ResolverSettings } from '../runtime/etc-files.js';
import { parseMountFlag } from '../runtime/mount-flag.js';
import { parseExtraHosts, parseNameservers, parseResolverWords } from '../runtime/resolver-flags.js';
import { flagParser, usageError } from './usage-error.js';

/** The parsed values of the container flags. */
export interface ContainerFlags {
  env?: string[];
  envFile?: string;
  cwd?: string;
  user?: string;
  mount?: string[];
  netHost?: boolean;
  cni?: boolean;
  cniPluginConfDir?: string;
  cniPluginDir?: string;
  dnsNameservers?: string[];
  dnsSearchDomains?: string[];
  dnsOptions?: string[];
  addHosts?: ExtraHost[];
}

/** A repeatable flag's values, each checked by `check`. */
const collect = (check: (value: string) => unknown) => flagParser((value: string, previous: string[] = []): string[] => (check(value), [...previous, value]));

/** A comma-separated flag whose items `parse` checks; repeating the flag adds to the list. */
const list = <T>(parse: (value: string) => T[]) => flagParser((value: string, previous: T[] = []): T[] => [...previous, ...parse(value)]);

/** Add the container flags to a command. */
export function addContainerFlags(cmd: Command): Command {
  return cmd
    .option('--env <K=V>', 'set an environment variable (repeatable; K alone unsets)', collect(checkEnvFlag))
    .option('--env-file <file>', 'read K=V lines from a file')
    .option('--cwd <dir>', 'working directory (default: the image WorkingDir)')
    .option('--user <user[:group]>', 'user and group, names or ids (default: the image User)')
    .option('--mount <spec>', 'mount, e.g. type=bind,source=/s,destination=/d,options=ro:rbind (repeatable)', collect(parseMountFlag))
    .option('--net-host', 'share the host network (default: a private network namespace with loopback only)')
    .option('--cni', 'network from CNI plugins: a bridge with a private address and a default route (default network: built-in ctr-remote0, 10.213.0.0/16)')
    .option('--cni-plugin-conf-dir <dir>', 'with --cni: use the first network configuration (.conflist, .conf, .json) in this directory instead of the built-in one')
    .option('--cni-plugin-dir <dir>', 'with --cni: directory of the CNI plugin binaries (default: /usr/lib/cni, then /opt/cni/bin)')
    .option('--dns-nameservers <ips>', "comma-separated nameservers for the container's /etc/resolv.conf (default: the host's; 8.8.8.8 in a private network when the host's are on loopback)", list(parseNameservers))
    .option('--dns-search-domains <domains>', "comma-separated search domains for the container's /etc/resolv.conf (default: the host's)", list((v) => parseResolverWords(v, 'search domain')))
    .option('--dns-options <options>', "comma-separated options for the container's /etc/resolv.conf (default: the host's)", list((v) => parseResolverWords(v, 'DNS option')))
    .option('--add-hosts <host:IP>', "comma-separated host:IP entries added to the container's /etc/hosts (repeatable)", list(parseExtraHosts));
}

/** The container flags as the options runContainer and optimizeImage take (network options only when given). */
export function containerOptions(f: ContainerFlags): {
  env: string[]; envFile?: string; cwd?: string; user?: string; mounts: string[]; netHost: boolean; cni?: CniOptions; dns?: ResolverSettings; extraHosts?: ExtraHost[];
} {
  const dns: ResolverSettings = {
    ...(f.dnsNameservers ? { nameservers: f.dnsNameservers } : {}),
    ...(f.dnsSearchDomains ? { search: f.dnsSearchDomains } : {}),
    ...(f.dnsOptions ? { options: f.dnsOptions } : {}),
  };
  return {
    env: f.env ?? [],
    ...(f.envFile ? { envFile: f.envFile } : {}),
    ...(f.cwd ? { cwd: f.cwd } : {}),
    ...(f.user ? { user: f.user } : {}),
    mounts: f.mount ?? [],
    netHost: f.netHost === true,
    // made absolute here: the record keeps them, and a later command (a cleanup, tasks start) runs elsewhere
    ...(f.cni ? { cni: { ...(f.cniPluginConfDir ? { confDir: resolve(f.cniPluginConfDir) } : {}), ...(f.cniPluginDir ? { pluginDir: resolve(f.cniPluginDir) } : {}) } } : {}),
    ...(Object.keys(dns).length > 0 ? { dns } : {}),
    ...(f.addHosts ? { extraHosts: f.addHosts } : {}),
  };
}

/** --cni with --net-host is a usage error: a container has one network. */
export function checkNetworkFlags(f: ContainerFlags): void {
  if (f.cni && f.netHost) throw usageError('--cni and --net-host exclude each other: a container has one network');
}

/** --cni-plugin-conf-dir and --cni-plugin-dir mean nothing without --cni (the reference ignores them): a warning says so. */
export function cniFlagsWarning(f: ContainerFlags): string | undefined {
  if (f.cni) return undefined;
  const given = [f.cniPluginConfDir !== undefined && '--cni-plugin-conf-dir', f.cniPluginDir !== undefined && '--cni-plugin-dir'].filter(Boolean);
  return given.length > 0 ? `${given.join(' and ')} ignored without --cni` : undefined;
}
