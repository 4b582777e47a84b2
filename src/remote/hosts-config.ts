// Registry hosts as containerd configures them (`config_path`, a directory of `<host>/hosts.toml`, and
// `_default/hosts.toml` for the rest): for a registry, the ordered list of hosts to try, mirrors first and
// the origin (or `server`) last, each with what it may do (`pull`: blobs and manifests by digest, `resolve`:
// tags, `push`), plain HTTP or TLS settings, extra headers and `override_path`. So Dragonfly, Spegel or a
// pull-through cache serve the lazy Range reads. TLS per host: `ca` (a path or a list), `client` (a combined
// cert+key PEM path, or a list of such paths and `[cert, key]` pairs); relative paths are relative to the
// directory of the hosts.toml. A host directory without hosts.toml is read as Docker's certs.d: `*.crt` CA
// files and `*.cert`/`*.key` client pairs for the origin.
// https://github.com/containerd/containerd/blob/main/docs/hosts.md
import { constants } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { parse } from 'smol-toml';
import { invalidArgument } from '../errors.js';
import { isLocalHost } from './reference.js';
import type { ClientCertificate } from './tls-files.js';

export type HostCapability = 'pull' | 'resolve' | 'push';

/** One host to try for a registry. */
export interface RegistryHost {
  /** `host[:port]` as the client dials it. */
  host: string;
  /** Talk plain HTTP. */
  plainHttp: boolean;
  /**
   * True when hosts.toml wrote this host's URL, so its scheme is as written; false for the default origin,
   * whose scheme follows the flags (and for loopback hosts, plain HTTP switching to https when the registry speaks TLS).
   */
  schemeGiven: boolean;
  /** The path requests go under: `/v2` unless `override_path` gave another. */
  apiRoot: string;
  capabilities: Set<HostCapability>;
  skipVerify: boolean;
  /** PEM CA files trusted for this host in addition to the system roots (`ca`), absolute paths. */
  ca: string[];
  /** Client certificates for this host (`client`), absolute paths. */
  client: ClientCertificate[];
  headers: Record<string, string>;
  /** True for the origin (or its `server` replacement), false for a mirror. */
  origin: boolean;
}

const ALL: HostCapability[] = ['pull', 'resolve', 'push'];

/**
 * The hosts for `registry` under `dir`, as containerd finds them: the first of `<dir>/<registry>/` and
 * `<dir>/_default/` that exists, its hosts.toml (else its certs.d files); else the origin alone. The TLS
 * files named must be readable (InvalidArgument naming the hosts file otherwise).
 */
export async function loadRegistryHosts(dir: string, registry: string): Promise<RegistryHost[]> {
  for (const name of [registry, '_default']) {
    const hostDir = join(dir, name);
    if (!(await isDirectory(hostDir))) continue;
    const file = join(hostDir, 'hosts.toml');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [{ ...originHost(registry), ...(await certsDirFiles(hostDir)) }];
      throw invalidArgument(`hosts file ${file}: cannot read it: ${(e as Error).message}`);
    }
    const hosts = parseHostsToml(text, registry, file, hostDir);
    await checkTlsFiles(hosts, file);
    return hosts;
  }
  return [originHost(registry)];
}

/**
 * The hosts a hosts.toml gives for `registry` (mirrors in file order, then the origin); relative TLS file
 * paths are taken from `baseDir` (default: the current directory). Pure.
 */
export function parseHostsToml(text: string, registry: string, source: string, baseDir = '.'): RegistryHost[] {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    throw invalidArgument(`hosts file ${source}: not valid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  const mirrors: RegistryHost[] = [];
  const table = doc['host'];
  if (table !== undefined) {
    if (!isTable(table)) throw invalidArgument(`hosts file ${source}: host must be a table of [host."URL"] sections`);
    for (const [url, section] of Object.entries(table)) {
      if (!isTable(section)) throw invalidArgument(`hosts file ${source}: host.${JSON.stringify(url)} must be a table`);
      mirrors.push(hostOf(url, section, false, source, baseDir));
    }
  }
  const server = doc['server'];
  if (server !== undefined && typeof server !== 'string') throw invalidArgument(`hosts file ${source}: server must be a URL string`);
  const origin = server ? hostOf(server, doc, true, source, baseDir) : withSettings(originHost(registry), settingsOf(doc, source, baseDir));
  return [...mirrors, origin];
}

/** The origin of `registry` with default settings (https; plain HTTP for loopback hosts); the client maps docker.io to its API host. */
export function originHost(registry: string): RegistryHost {
  return { host: registry, plainHttp: isLocalHost(registry), schemeGiven: false, apiRoot: '/v2', capabilities: new Set(ALL), skipVerify: false, ca: [], client: [], headers: {}, origin: true };
}

function withSettings(host: RegistryHost, settings: HostSettings): RegistryHost {
  const { capabilities, ...rest } = settings;
  return { ...host, ...rest, ...(capabilities ? { capabilities } : {}) };
}

function hostOf(urlText: string, section: Record<string, unknown>, origin: boolean, source: string, baseDir: string): RegistryHost {
  const withScheme = /^[a-z]+:\/\//i.test(urlText) ? urlText : `https://${urlText}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw invalidArgument(`hosts file ${source}: ${JSON.stringify(urlText)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument(`hosts file ${source}: ${JSON.stringify(urlText)} is not http or https`);
  const path = url.pathname.replace(/\/+$/, '');
  const overridePath = section['override_path'] === true;
  const settings = settingsOf(section, source, baseDir);
  return {
    host: url.host,
    plainHttp: url.protocol === 'http:',
    schemeGiven: true,
    apiRoot: overridePath ? path : `${path}/v2`,
    capabilities: settings.capabilities ?? new Set(origin ? ALL : ['pull', 'resolve']),
    skipVerify: settings.skipVerify,
    ca: settings.ca,
    client: settings.client,
    headers: settings.headers,
    origin,
  };
}

/** What one section (a `[host."…"]` or the top level for the origin) sets. */
interface HostSettings {
  capabilities?: Set<HostCapability>;
  skipVerify: boolean;
  ca: string[];
  client: ClientCertificate[];
  headers: Record<string, string>;
}

function settingsOf(section: Record<string, unknown>, source: string, baseDir: string): HostSettings {
  const out: HostSettings = { skipVerify: false, ca: [], client: [], headers: {} };
  const path = (p: string) => (isAbsolute(p) ? p : join(baseDir, p));
  const caps = section['capabilities'];
  if (caps !== undefined) {
    if (!Array.isArray(caps) || caps.some((c) => !ALL.includes(c as HostCapability))) throw invalidArgument(`hosts file ${source}: capabilities must be a list of "pull", "resolve", "push"`);
    out.capabilities = new Set(caps as HostCapability[]);
  }
  const skip = section['skip_verify'];
  if (skip !== undefined) {
    if (typeof skip !== 'boolean') throw invalidArgument(`hosts file ${source}: skip_verify must be true or false`);
    out.skipVerify = skip;
  }
  const ca = section['ca'];
  if (ca !== undefined) {
    const list = Array.isArray(ca) ? ca : [ca];
    if (!list.every((p): p is string => typeof p === 'string' && p !== '')) throw invalidArgument(`hosts file ${source}: ca must be a path or a list of paths`);
    out.ca = list.map(path);
  }
  const client = section['client'];
  if (client !== undefined) out.client = clientOf(client, source).map((c) => ({ cert: path(c.cert), ...(c.key !== undefined ? { key: path(c.key) } : {}) }));
  const header = section['header'];
  if (header !== undefined) {
    if (!isTable(header)) throw invalidArgument(`hosts file ${source}: header must be a table`);
    for (const [k, v] of Object.entries(header)) {
      const value = Array.isArray(v) ? v.join(', ') : v;
      if (typeof value !== 'string') throw invalidArgument(`hosts file ${source}: header ${k} must be a string or a list of strings`);
      out.headers[k.toLowerCase()] = value;
    }
  }
  return out;
}

/** containerd's forms of `client`: "cert+key.pem", or a list of such paths and ["cert.pem", "key.pem"] pairs. */
function clientOf(value: unknown, source: string): ClientCertificate[] {
  const bad = () => invalidArgument(`hosts file ${source}: client must be a path, or a list of paths and ["cert", "key"] pairs`);
  const one = (v: unknown): ClientCertificate => {
    if (typeof v === 'string' && v !== '') return { cert: v };
    if (Array.isArray(v) && v.length >= 1 && v.length <= 2 && v.every((p) => typeof p === 'string') && v[0] !== '') {
      const [cert, key] = v as string[];
      return { cert: cert!, ...(key ? { key } : {}) };
    }
    throw bad();
  };
  if (typeof value === 'string') return [one(value)];
  if (!Array.isArray(value)) throw bad();
  // ["cert.pem", "key.pem"] at the top is a list of two combined files, as containerd reads it
  return value.map(one);
}

/** Every TLS file the hosts name can be read. */
async function checkTlsFiles(hosts: readonly RegistryHost[], source: string): Promise<void> {
  for (const h of hosts) {
    const files = [...h.ca.map((f) => ['ca', f]), ...h.client.flatMap((c) => [['client', c.cert], ...(c.key ? [['client key', c.key]] : [])])];
    for (const [what, file] of files) {
      await access(file!, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
        throw invalidArgument(`hosts file ${source}: ${what} ${file} of ${h.host}: cannot read it (${e.code ?? e.message})`);
      });
    }
  }
}

/** Docker's certs.d files in `dir`: `*.crt` CA files, `*.cert` client certificates with the `*.key` of the same name. */
async function certsDirFiles(dir: string): Promise<{ ca: string[]; client: ClientCertificate[] }> {
  const names = (await readdir(dir)).sort();
  const ca = names.filter((n) => n.endsWith('.crt')).map((n) => join(dir, n));
  const client: ClientCertificate[] = [];
  for (const n of names.filter((f) => f.endsWith('.cert'))) {
    const key = `${n.slice(0, -'.cert'.length)}.key`;
    if (!names.includes(key)) throw invalidArgument(`certificate directory ${dir}: client certificate ${n} has no ${key}`);
    client.push({ cert: join(dir, n), key: join(dir, key) });
  }
  return { ca, client };
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw invalidArgument(`hosts directory ${p}: cannot read it: ${(e as Error).message}`);
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
