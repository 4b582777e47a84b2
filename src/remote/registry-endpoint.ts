// A registry reference as an image endpoint: implements ImageSource (resolve, fetch) and ImageSink
// (has, put, tag) over one Repository, so pull and push are the generic image copy.
import { CtrError, isCtrError, withContext } from '../errors.js';
import type { BlobProgress, ImageSink, ImageSource } from '../content/endpoint.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import { RegistryClient, type ClientOptions } from './client.js';
import { hostClientOptions } from './host-client-options.js';
import { loadRegistryHosts, type RegistryHost } from './hosts-config.js';
import { formatReference, parseReference, referenceTarget, type Reference } from './reference.js';
import { MAX_MANIFEST_SIZE } from '../oci/manifest-json.js';
import { Repository } from './repository.js';
import { MirroredRepository } from './mirrored-repository.js';

/** Options of openRegistry (the CLI's registry flags). */
export interface RegistryOptions {
  /** `--plain-http`. Default false (loopback hosts always use plain HTTP). */
  plainHttp?: boolean;
  /** `-k/--skip-verify`: do not verify TLS certificates. Default false. */
  skipVerify?: boolean;
  /** `--tlscacert FILE`: PEM CA bundle trusted in addition to the system roots. */
  tlsCaCert?: string;
  /** `--tlscert FILE`: PEM client certificate presented to the registry (its key in `tlsKey`, else in the same file). */
  tlsCert?: string;
  /** `--tlskey FILE`: the PEM key of `tlsCert`. */
  tlsKey?: string;
  /** `-u user[:pass]` split; when unset, credentials come from the Docker config. */
  username?: string;
  password?: string;
  /** Directory of config.json. Default $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string;
  /**
   * Retries of one operation (a request, a blob download, a range read) after its first attempt, spent on
   * connection errors, 429 and 5xx, and bodies that drop, stall or end short (downloads resume). Default 4.
   */
  retries?: number;
  /** First backoff delay in ms (doubles per retry, with jitter). Default 250. */
  retryBaseMs?: number;
  /** Cap of one backoff delay (and of Retry-After) in ms. Default 10_000. */
  retryMaxMs?: number;
  /** Connect/response-header timeout in ms. Default 30_000. */
  timeoutMs?: number;
  /** Read (idle) timeout in ms: a body that sends nothing for this long has stalled (retried as transient). Default 30_000. */
  readTimeoutMs?: number;
  /** Blobs larger than this are uploaded in PATCH chunks of this size. Default 16 MiB. */
  uploadChunkSize?: number;
  /** A repository on the same registry to try cross-mounting blobs from when pushing. */
  mountFrom?: string;
  /**
   * `--hosts-dir DIR`: containerd's hosts directory (`DIR/<registry>/hosts.toml`, else `DIR/_default/`),
   * read by openRegistryWithHosts into `hosts`. Default none.
   */
  hostsDir?: string;
  /**
   * The registry's hosts from a hosts.toml (remote/hosts-config.ts loadRegistryHosts): reads try its
   * mirrors first, the origin last. Default: the origin alone (or those of `hostsDir`).
   */
  hosts?: readonly RegistryHost[];
  /** Told of each mirror failure a read fell through (host, error). */
  onMirrorFailure?: (host: string, error: unknown) => void;
  /** Receives request/retry lines (`--debug`); never credentials. */
  debug?: (line: string) => void;
  /** `--http-dump`: receives each request and response, start line and headers, secrets redacted. */
  httpDump?: (text: string) => void;
  /** `--refresh TOKEN`: an OAuth2 refresh token exchanged at the registry's token server for access tokens. */
  refreshToken?: string;
  /** Per-blob progress of uploads (done/skipped/mounted). */
  onProgress?: (p: BlobProgress) => void;
}

/** Which repositories of a registry are known to hold a blob (filled by fetches; used for cross-repo mounts). */
const knownBlobSources = new Map<string, string>();

/** A registry repository usable as source and sink of image copies; also exposes the Repository for Range reads. */
export class RegistryEndpoint implements ImageSource, ImageSink {
  readonly label: string;
  readonly reference: Reference;
  readonly client: RegistryClient;
  readonly repository: Repository;

  constructor(ref: string, private readonly opts: RegistryOptions = {}) {
    this.reference = parseReference(ref);
    this.label = formatReference(this.reference);
    const clientOptions = {
      ...pick(opts), backoff: { ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
        ...(opts.retryBaseMs !== undefined ? { baseMs: opts.retryBaseMs } : {}), ...(opts.retryMaxMs !== undefined ? { maxMs: opts.retryMaxMs } : {}) },
    };
    const origin = opts.hosts?.find((h) => h.origin);
    this.client = new RegistryClient(origin?.host ?? this.reference.registry, origin ? hostClientOptions(origin, clientOptions) : clientOptions);
    const repoOptions = { ...(opts.uploadChunkSize !== undefined ? { uploadChunkSize: opts.uploadChunkSize } : {}) };
    const mirrors = opts.hosts?.filter((h) => !h.origin) ?? [];
    this.repository = mirrors.length > 0
      ? new MirroredRepository(this.client, this.reference.repository, repoOptions, mirrors, clientOptions, opts.onMirrorFailure ? { onMirrorFailure: opts.onMirrorFailure } : {})
      : new Repository(this.client, this.reference.repository, repoOptions);
  }

  /** The root descriptor of the reference (tag or digest). */
  async resolve(signal?: AbortSignal): Promise<Descriptor> {
    return this.wrap('resolve', () => this.repository.resolve(referenceTarget(this.reference), signal));
  }

  /**
   * The root manifest of the reference in one GET (resolve + fetch without the HEAD: one round trip fewer).
   * Its digest is of the bytes received, checked against the registry's Docker-Content-Digest and against
   * the reference's digest when it names one.
   */
  async fetchRoot(signal?: AbortSignal): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    // with mirrors, a tag is resolved by the hosts that may resolve and the manifest then read by digest, so
    // that pull-only mirrors serve it (and the origin sees a HEAD, not a GET)
    if (this.repository instanceof MirroredRepository) {
      const desc = await this.resolve(signal);
      return this.wrap('fetch', () => this.repository.fetchManifest(desc, signal));
    }
    return this.wrap('resolve', () => this.repository.fetchManifest(referenceTarget(this.reference), signal));
  }

  /** Bytes of a manifest (verified) or a blob (streamed; the caller verifies). */
  async fetch(desc: Descriptor, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    return this.wrap('fetch', async () => {
      if (isManifestType(desc.mediaType) || isIndexType(desc.mediaType)) return once((await this.repository.fetchManifest(desc, signal)).bytes);
      knownBlobSources.set(this.sourceKey(desc.digest), this.reference.repository);
      return this.repository.fetchBlob(desc, signal);
    });
  }

  /** True when the registry already has this manifest or blob in the repository. */
  async has(desc: Descriptor, signal?: AbortSignal): Promise<boolean> {
    return this.wrap('check', async () => {
      if (isManifestType(desc.mediaType) || isIndexType(desc.mediaType)) return this.repository.hasManifest(desc.digest, signal);
      return (await this.repository.headBlob(desc.digest, signal)) !== undefined;
    });
  }

  /** Upload a blob (skip/mount/upload) or PUT a manifest by digest. */
  async put(desc: Descriptor, content: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<void> {
    return this.wrap('push', async () => {
      if (isManifestType(desc.mediaType) || isIndexType(desc.mediaType)) {
        return this.repository.pushManifest(desc, await readAll(content, desc), undefined, signal);
      }
      const mountFrom = this.opts.mountFrom ?? knownBlobSources.get(this.sourceKey(desc.digest));
      const state = await this.repository.pushBlob(desc, content, { ...(mountFrom ? { mountFrom } : {}), ...(signal ? { signal } : {}) });
      this.opts.onProgress?.({ digest: desc.digest, mediaType: desc.mediaType, done: desc.size, total: desc.size, state: state === 'uploaded' ? 'done' : state });
    });
  }

  /** PUT the manifest bytes under the reference's tag (or by digest for a digest reference). */
  async tag(desc: Descriptor, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    return this.wrap('tag', () => this.repository.pushManifest(desc, bytes, this.reference.tag, signal));
  }

  /** Close the connection pools. */
  async close(): Promise<void> {
    if (this.repository instanceof MirroredRepository) await this.repository.closeMirrors();
    return this.client.close();
  }

  private sourceKey(digest: string): string {
    return `${this.reference.registry} ${digest}`;
  }

  private async wrap<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      // An error that already names what it concerns (a manifest or blob of this repository, a request) stays as it is.
      throw isCtrError(e) && e.subject !== undefined ? e : withContext({ op, subject: this.label }, e);
    }
  }
}

/** Open a registry reference as an image source and sink (`opts.hostsDir` is not read: see openRegistryWithHosts). Throws InvalidArgument for a bad reference. */
export function openRegistry(ref: string, opts: RegistryOptions = {}): RegistryEndpoint {
  return new RegistryEndpoint(ref, opts);
}

/** openRegistry, with the hosts of the registry read from `opts.hostsDir` when it is set and `opts.hosts` is not. */
export async function openRegistryWithHosts(ref: string, opts: RegistryOptions = {}): Promise<RegistryEndpoint> {
  if (opts.hostsDir === undefined || opts.hosts !== undefined) return openRegistry(ref, opts);
  return openRegistry(ref, { ...opts, hosts: await loadRegistryHosts(opts.hostsDir, parseReference(ref).registry) });
}

/** The options every host's client shares, from the registry options. */
function pick(o: RegistryOptions): ClientOptions {
  const { plainHttp, skipVerify, tlsCaCert, username, password, dockerConfigDir, timeoutMs, readTimeoutMs, debug, httpDump, refreshToken } = o;
  const tlsClientCerts = o.tlsCert !== undefined ? [{ cert: o.tlsCert, ...(o.tlsKey !== undefined ? { key: o.tlsKey } : {}) }] : undefined;
  const all = { plainHttp, skipVerify, tlsCaCert, tlsClientCerts, username, password, dockerConfigDir, timeoutMs, readTimeoutMs, debug, httpDump, refreshToken };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as ClientOptions;
}

async function readAll(content: AsyncIterable<Buffer>, desc: Descriptor): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of content) {
    n += c.length;
    if (n > MAX_MANIFEST_SIZE) throw new CtrError('LimitExceeded', `manifest ${desc.digest} exceeds the ${MAX_MANIFEST_SIZE}-byte limit`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}
