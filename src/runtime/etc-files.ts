// The per-container /etc/hosts, /etc/resolv.conf and /etc/hostname, written into the bundle and
// bind-mounted by the spec (the image's own files stay untouched).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Paths of the generated files. */
export interface EtcFiles {
  hosts: string;
  resolvConf: string;
  hostname: string;
}

/** Options of writeEtcFiles. */
export interface EtcFilesOptions {
  hostname: string;
  /** With the host network the host's hosts and resolv.conf are copied as they are. Default false. */
  netHost?: boolean;
  /** Where the host's files are read from. Default `/etc`. */
  hostEtc?: string;
  signal?: AbortSignal;
}

/** Write hosts, resolv.conf and hostname for one container into `dir`; returns their paths. */
export async function writeEtcFiles(dir: string, opts: EtcFilesOptions): Promise<EtcFiles> {
  const hostEtc = opts.hostEtc ?? '/etc';
  const files: EtcFiles = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
  const hostResolv = await readOptional(join(hostEtc, 'resolv.conf'), opts.signal);
  const hosts = opts.netHost ? await readOptional(join(hostEtc, 'hosts'), opts.signal) : privateHosts(opts.hostname);
  const resolv = opts.netHost ? hostResolv : withoutLoopbackNameservers(hostResolv);
  await writeFile(files.hosts, hosts, { mode: 0o644, signal: opts.signal });
  await writeFile(files.resolvConf, resolv, { mode: 0o644, signal: opts.signal });
  await writeFile(files.hostname, `${opts.hostname}\n`, { mode: 0o644, signal: opts.signal });
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
