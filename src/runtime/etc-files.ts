// The per-container /etc/hosts, /etc/resolv.conf and /etc/hostname, written into the bundle and
// bind-mounted by the spec (the image's own files stay untouched).
import { settleAll } from '../host/settle-all.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Paths of the generated files. */
export interface EtcFiles {
  hosts: string;
  resolvConf: string;
  hostname: string;
}

/** What the DNS flags put in /etc/resolv.conf (optimize's --dns-nameservers, --dns-search-domains, --dns-options). */
export interface ResolverSettings {
  /** Replace the nameserver lines. Default: the host's (loopback ones dropped in a private network). */
  nameservers?: string[];
  /** Replace the search line. Default: the host's. */
  search?: string[];
  /** Replace the options line. Default: the host's. */
  options?: string[];
}

/** One `--add-hosts host:IP` entry. */
export interface ExtraHost {
  host: string;
  ip: string;
}

/** The nameserver a container in its own network gets when the host's are all on loopback (the reference's default). */
export const FALLBACK_NAMESERVER = '8.8.8.8';

/** Options of writeEtcFiles. */
export interface EtcFilesOptions {
  hostname: string;
  /** With the host network the host's hosts and resolv.conf are copied as they are. Default false. */
  netHost?: boolean;
  /** Overrides of resolv.conf lines (see ResolverSettings). Default: none. */
  dns?: ResolverSettings;
  /** Lines appended to /etc/hosts. Default: none. */
  extraHosts?: ExtraHost[];
  /** Where the host's files are read from. Default `/etc`. */
  hostEtc?: string;
  signal?: AbortSignal;
}

/** Write hosts, resolv.conf and hostname for one container into `dir`; returns their paths. */
export async function writeEtcFiles(dir: string, opts: EtcFilesOptions): Promise<EtcFiles> {
  const hostEtc = opts.hostEtc ?? '/etc';
  const files: EtcFiles = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
  const hostResolv = await readOptional(join(hostEtc, 'resolv.conf'), opts.signal);
  const baseHosts = opts.netHost ? await readOptional(join(hostEtc, 'hosts'), opts.signal) : privateHosts(opts.hostname);
  const hosts = withExtraHosts(baseHosts, opts.extraHosts ?? []);
  const resolv = containerResolvConf(hostResolv, opts.netHost === true, opts.dns ?? {});
  await settleAll([
    writeFile(files.hosts, hosts, { mode: 0o644, signal: opts.signal }),
    writeFile(files.resolvConf, resolv, { mode: 0o644, signal: opts.signal }),
    writeFile(files.hostname, `${opts.hostname}\n`, { mode: 0o644, signal: opts.signal }),
  ]);
  return files;
}

/** /etc/hosts of a container in its own network namespace: loopback names and its hostname. */
export function privateHosts(hostname: string): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    `127.0.1.1\t${hostname}`,
    '',
  ].join('\n');
}

/**
 * A container's resolv.conf from the host's: with its own network, nameservers on loopback are dropped (and
 * FALLBACK_NAMESERVER stands in when none is left); then each line kind the flags give replaces the host's.
 */
export function containerResolvConf(hostResolvConf: string, netHost: boolean, dns: ResolverSettings): string {
  const base = netHost ? hostResolvConf : withoutLoopbackNameservers(hostResolvConf);
  const kept = base.split('\n').filter((l) => l.trim() !== '');
  const lineOf = (kind: string) => new RegExp(`^\\s*${kind}(\\s|$)`);
  const hasNameserver = kept.some((l) => lineOf('nameserver').test(l));
  const nameservers = dns.nameservers ?? (netHost || hasNameserver ? undefined : [FALLBACK_NAMESERVER]);
  if (nameservers === undefined && dns.search === undefined && dns.options === undefined) return base;
  const replaced: [string, string[] | undefined, (v: string[]) => string[]][] = [
    ['nameserver', nameservers, (v) => v.map((n) => `nameserver ${n}`)],
    ['search', dns.search, (v) => [`search ${v.join(' ')}`]],
    ['options', dns.options, (v) => [`options ${v.join(' ')}`]],
  ];
  let lines = kept;
  const added: string[] = [];
  for (const [kind, values, render] of replaced) {
    if (values === undefined) continue;
    lines = lines.filter((l) => !lineOf(kind).test(l));
    if (values.length > 0) added.push(...render(values));
  }
  const out = [...lines, ...added];
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/** `hosts` with one `IP<TAB>host` line per extra host appended. */
export function withExtraHosts(hosts: string, extra: readonly ExtraHost[]): string {
  if (extra.length === 0) return hosts;
  const head = hosts === '' || hosts.endsWith('\n') ? hosts : `${hosts}\n`;
  return `${head}${extra.map((h) => `${h.ip}\t${h.host}\n`).join('')}`;
}

/** Drop nameservers on loopback addresses: they are the host's, unreachable from a private netns. */
export function withoutLoopbackNameservers(resolvConf: string): string {
  return resolvConf
    .split('\n')
    .filter((l) => !/^\s*nameserver\s+(127\.|::1(\s|$))/.test(l))
    .join('\n');
}

async function readOptional(path: string, signal: AbortSignal | undefined): Promise<string> {
  try {
    return await readFile(path, { encoding: 'utf8', signal });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw e;
  }
}
