// The snapshotter service's config file: the reference daemon's TOML (/etc/containerd-stargz-grpc/config.toml),
// so a node's existing file keeps working. Every key the reference knows is accepted; the ones this service
// acts on are typed and checked, the others are reported once at start ("accepted, has no effect here"), and
// a key neither knows is reported as unknown (a typo should not pass silently). Pure apart from reading the file.
// https://github.com/containerd/stargz-snapshotter/blob/main/cmd/containerd-stargz-grpc/config.go
import { readFile } from 'node:fs/promises';
import { parse } from 'smol-toml';
import { invalidArgument } from '../errors.js';

/** What the service acts on, with its defaults. */
export interface ServiceConfig {
  /** `no_background_fetch`: fetch only what is read and the prefetch region. Default false. */
  noBackgroundFetch: boolean;
  /** `disable_verification`: serve chunks and TOCs unverified. Default false. */
  disableVerification: boolean;
  /** `allow_no_verification`: mount a layer whose Prepare carries no toc.digest label (TOC unverified). Default false. */
  allowNoVerification: boolean;
  /**
   * `[fuse_manager] enable`: hold the FUSE sessions in a separate process that outlives the service, so a
   * restart keeps running containers reading. Default true (the reference's default is false).
   */
  fuseManager: boolean;
  /** `[resolver] config_path`: containerd's hosts directory (`<dir>/<registry>/hosts.toml`, mirrors first). Default none. */
  hostsDir?: string;
  /** `[cri_keychain] enable_keychain` with `image_service_path` (containerd's CRI socket): the ImageService proxy that keeps kubelet's credentials. */
  criKeychain?: { imageServicePath: string };
  /** `metrics_address`: host:port of the Prometheus endpoint (GET /metrics, /debug). Default none. */
  metricsAddress?: string;
  /** `cache_max_bytes` (ours): bound of the chunk cache. Default: the chunk cache's own (min(10 GiB, half the free disk)). */
  cacheMaxBytes?: number;
  /** Keys read but not acted on, and unknown keys: one warning each at start. */
  notes: string[];
}

/** Keys of the reference's config this service accepts without acting on them (dotted for tables). */
const ACCEPTED = new Set([
  'noprefetch', 'prefetch_size', 'prefetch_timeout_sec', 'max_concurrency', 'debug_address',
  'metadata_store', 'no_prometheus', 'mount_timeout_sec', 'fuse_metrics_emit_wait_duration_sec', 'resolve_result_entry',
  'prefetch_entry', 'http_cache_type', 'filesystem_cache_type', 'resolve_result_entry_ttl_sec', 'ipfs', 'log_file_path',
  'blob', 'directory_cache', 'fuse', 'kubeconfig_keychain', 'snapshotter',
  'content_store_config', 'debug',
]);

/** The defaults, with no file. */
export function defaultServiceConfig(): ServiceConfig {
  return { noBackgroundFetch: false, disableVerification: false, allowNoVerification: false, fuseManager: true, notes: [] };
}

/** Parse a config document (TOML text); `source` names it in errors. InvalidArgument on bad TOML or a wrongly typed key. */
export function parseServiceConfig(text: string, source: string): ServiceConfig {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    throw invalidArgument(`config ${source}: not valid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  const config = defaultServiceConfig();
  const fail = (what: string): never => {
    throw invalidArgument(`config ${source}: ${what}`);
  };
  /** The table at `key` of the document, or undefined. */
  const tableAt = (key: string): Record<string, unknown> | undefined => {
    const v = doc[key];
    if (v !== undefined && !isTable(v)) fail(`${key} must be a table`);
    return v as Record<string, unknown> | undefined;
  };
  /** The boolean at `key` of `table` (`name` is how messages spell it), or undefined. */
  const boolAt = (table: Record<string, unknown>, key: string, name = key): boolean | undefined => {
    const v = table[key];
    if (v !== undefined && typeof v !== 'boolean') fail(`${name} must be true or false, not ${JSON.stringify(v)}`);
    return v as boolean | undefined;
  };
  /** A note (`say` of the dotted key) for each key of `table` besides `known`. */
  const noteOthers = (table: Record<string, unknown>, name: string, known: readonly string[], say: (key: string) => string) => {
    for (const k of Object.keys(table)) if (!known.includes(k)) config.notes.push(`config ${source}: ${say(`${name}.${k}`)}`);
  };
  config.noBackgroundFetch = boolAt(doc, 'no_background_fetch') ?? false;
  config.disableVerification = boolAt(doc, 'disable_verification') ?? false;
  config.allowNoVerification = boolAt(doc, 'allow_no_verification') ?? false;
  const max = doc['cache_max_bytes'];
  if (max !== undefined) {
    const n = typeof max === 'bigint' ? Number(max) : max;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) fail(`cache_max_bytes must be a positive integer, not ${String(max)}`);
    config.cacheMaxBytes = n as number;
  }
  const metrics = doc['metrics_address'];
  if (metrics !== undefined) {
    if (typeof metrics !== 'string' || !/^.+:\d+$/.test(metrics)) fail(`metrics_address must be "host:port", not ${JSON.stringify(metrics)}`);
    config.metricsAddress = metrics as string;
  }
  const resolver = tableAt('resolver');
  if (resolver) {
    const path = resolver['config_path'];
    if (path !== undefined && typeof path !== 'string') fail('resolver.config_path must be a directory path');
    if (typeof path === 'string') config.hostsDir = path;
    noteOthers(resolver, 'resolver', ['config_path'], (k) => `${k} is accepted but has no effect in this service (use resolver.config_path, containerd's hosts.toml directory)`);
  }
  const cri = tableAt('cri_keychain');
  if (cri) {
    const enable = boolAt(cri, 'enable_keychain', 'cri_keychain.enable_keychain');
    const path = cri['image_service_path'] ?? '/run/containerd/containerd.sock';
    if (typeof path !== 'string') fail('cri_keychain.image_service_path must be a socket path');
    if (enable === true) config.criKeychain = { imageServicePath: path as string };
    noteOthers(cri, 'cri_keychain', ['enable_keychain', 'image_service_path'], (k) => `unknown key ${k} (ignored)`);
  }
  const fm = tableAt('fuse_manager');
  if (fm) {
    const enable = boolAt(fm, 'enable', 'fuse_manager.enable');
    if (enable !== undefined) config.fuseManager = enable;
    noteOthers(fm, 'fuse_manager', ['enable'], (k) => `${k} is accepted but has no effect in this service (the manager's socket is under the root)`);
  }
  const acted = new Set(['no_background_fetch', 'disable_verification', 'allow_no_verification', 'cache_max_bytes', 'fuse_manager', 'metrics_address', 'resolver', 'cri_keychain']);
  for (const key of Object.keys(doc)) {
    if (acted.has(key)) continue;
    config.notes.push(ACCEPTED.has(key) ? `config ${source}: ${key} is accepted but has no effect in this service` : `config ${source}: unknown key ${key} (ignored)`);
  }
  return config;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Read the config at `path`; the defaults when `path` is the default location and the file is absent. */
export async function loadServiceConfig(path: string, { optional }: { optional: boolean }): Promise<ServiceConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && optional) return defaultServiceConfig();
    throw invalidArgument(`config ${path}: cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseServiceConfig(text, path);
}
