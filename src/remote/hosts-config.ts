// Registry hosts as containerd configures them (`config_path`, a directory of `<host>/hosts.toml`, and
// `_default/hosts.toml` for the rest): for a registry, the ordered list of hosts to try, mirrors first and
// the origin (or `server`) last, each with what it may do (`pull`: blobs and manifests by digest, `resolve`:
// tags, `push`), plain HTTP or TLS settings, extra headers and `override_path`. So Dragonfly, Spegel or a
// pull-through cache serve the lazy Range reads.
// https://github.com/containerd/containerd/blob/main/docs/hosts.md
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { invalidArgument } from '../errors.js';
import { isLocalHost } from './reference.js';

export type HostCapability = 'pull' | 'resolve' | 'push';

/** One host to try for a registry. */
export interface RegistryHost {
  /** `host[:port]` as the client dials it. */
  host: string;
  /** Talk plain HTTP. */
  plainHttp: boolean;
  /** The path requests go under: `/v2` unless `override_path` gave another. */
  apiRoot: string;
  capabilities: Set<HostCapability>;
  skipVerify: boolean;
  /** A PEM CA file (the first of `ca`). */
  ca?: string;
  headers: Record<string, string>;
  /** True for the origin (or its `server` replacement), false for a mirror. */
  origin: boolean;
}

const ALL: HostCapability[] = ['pull', 'resolve', 'push'];

/** The hosts for `registry` under `dir` (`<dir>/<registry>/hosts.toml`, else `<dir>/_default/hosts.toml`, else the origin alone). */
export async function loadRegistryHosts(dir: string, registry: string): Promise<RegistryHost[]> {
  for (const name of [registry, '_default']) {
    const file = join(dir, name, 'hosts.toml');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') continue;
      throw invalidArgument(`hosts file ${file}: cannot read it: ${(e as Error).message}`);
    }
    return parseHostsToml(text, registry, file);
  }
  return [originHost(registry)];
}

/** The hosts a hosts.toml gives for `registry` (mirrors in file order, then the origin). Pure. */
export function parseHostsToml(text: string, registry: string, source: string): RegistryHost[] {
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
      mirrors.push(hostOf(url, section, false, source));
    }
  }
  const server = doc['server'];
  if (server !== undefined && typeof server !== 'string') throw invalidArgument(`hosts file ${source}: server must be a URL string`);
  const origin = server ? hostOf(server, doc, true, source) : { ...originHost(registry), ...settingsOf(doc, source) };
  return [...mirrors, origin];
}

/** The origin of `registry` with default settings (https; plain HTTP for loopback hosts); the client maps docker.io to its API host. */
export function originHost(registry: string): RegistryHost {
  return { host: registry, plainHttp: isLocalHost(registry), apiRoot: '/v2', capabilities: new Set(ALL), skipVerify: false, headers: {}, origin: true };
}

function hostOf(urlText: string, section: Record<string, unknown>, origin: boolean, source: string): RegistryHost {
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
  const settings = settingsOf(section, source);
  return {
    host: url.host,
    plainHttp: url.protocol === 'http:',
    apiRoot: overridePath ? path : `${path}/v2`,
    capabilities: settings.capabilities ?? new Set(origin ? ALL : ['pull', 'resolve']),
    skipVerify: settings.skipVerify,
    ...(settings.ca ? { ca: settings.ca } : {}),
    headers: settings.headers,
    origin,
  };
}

function settingsOf(section: Record<string, unknown>, source: string): { capabilities?: Set<HostCapability>; skipVerify: boolean; ca?: string; headers: Record<string, string> } {
  const out: { capabilities?: Set<HostCapability>; skipVerify: boolean; ca?: string; headers: Record<string, string> } = { skipVerify: false, headers: {} };
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
    const first = Array.isArray(ca) ? ca[0] : ca;
    if (typeof first !== 'string') throw invalidArgument(`hosts file ${source}: ca must be a path or a list of paths`);
    out.ca = first;
  }
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

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}
