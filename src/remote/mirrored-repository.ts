// A repository reached through mirrors: reads (blobs, Range reads, manifests) go to each mirror that may
// serve them, in order, and to the origin last; a mirror that fails (down, missing the blob, refusing) is
// skipped for a while and the read falls through, so a dead mirror costs one failure, not one per read.
// Writes always go to the origin. The hosts come from a hosts.toml (hosts-config.ts).
import { isCtrError } from '../errors.js';
import { isDigest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import type { OnBytes } from '../content/blob-source.js';
import type { ByteRange } from './byte-ranges.js';
import { RegistryClient, type ClientOptions } from './client.js';
import { hostClientOptions } from './host-client-options.js';
import type { HostCapability, RegistryHost } from './hosts-config.js';
import { Repository, type FetchedManifest, type RepositoryOptions } from './repository.js';

/** How long a failed mirror is left out before it is tried again. */
export const MIRROR_RETRY_AFTER_MS = 30_000;

/** Options of a MirroredRepository. */
export interface MirrorOptions {
  /** Told of each mirror failure that made a read fall through (host, error). Default none. */
  onMirrorFailure?: (host: string, error: unknown) => void;
}

interface Mirror {
  host: RegistryHost;
  repository: Repository;
  downUntil: number;
}

/** A repository whose reads try its mirrors first. */
export class MirroredRepository extends Repository {
  private readonly mirrors: Mirror[];

  /**
   * @param client the origin's client; `hosts` the mirrors (entries with `origin` are ignored: the origin is `client`);
   * `clientOptions` the origin's settings, of which the mirrors share timeouts, retries and TLS trust but not
   * the credentials given for the origin (see mirrorShared).
   */
  constructor(client: RegistryClient, name: string, opts: RepositoryOptions, hosts: readonly RegistryHost[], clientOptions: ClientOptions, private readonly mirrorOptions: MirrorOptions = {}) {
    super(client, name, opts);
    this.mirrors = hosts.filter((h) => !h.origin).map((host) => ({
      host,
      downUntil: 0,
      repository: new Repository(
        new RegistryClient(host.host, {
          ...hostClientOptions(host, mirrorShared(clientOptions)),
          // a mirror that does not answer is left for the next host quickly, not after the origin's retries
          backoff: { ...clientOptions.backoff, retries: Math.min(clientOptions.backoff?.retries ?? 1, 1) },
        }),
        name,
        { apiRoot: host.apiRoot, mirrorOf: client.registry },
      ),
    }));
  }

  override resolve(target: string, signal?: AbortSignal): Promise<Descriptor> {
    return this.read(isDigest(target) ? 'pull' : 'resolve', (r) => r.resolve(target, signal), () => super.resolve(target, signal));
  }

  override fetchManifest(target: Descriptor | string, signal?: AbortSignal): Promise<FetchedManifest> {
    const byDigest = typeof target !== 'string' || isDigest(target);
    return this.read(byDigest ? 'pull' : 'resolve', (r) => r.fetchManifest(target, signal), () => super.fetchManifest(target, signal));
  }

  override fetchBlob(desc: Descriptor, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    return this.read('pull', (r) => r.fetchBlob(desc, signal), () => super.fetchBlob(desc, signal));
  }

  override blobSize(digest: string, signal?: AbortSignal): Promise<number> {
    return this.read('pull', (r) => r.blobSize(digest, signal), () => super.blobSize(digest, signal));
  }

  override blobRange(digest: string, offset: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    return this.read('pull', (r) => r.blobRange(digest, offset, length, signal), () => super.blobRange(digest, offset, length, signal));
  }

  override blobTail(digest: string, length: number, signal?: AbortSignal): Promise<{ data: Buffer; size: number }> {
    return this.read('pull', (r) => r.blobTail(digest, length, signal), () => super.blobTail(digest, length, signal));
  }

  override blobRangeStream(digest: string, offset: number, length: number, onBytes: OnBytes, signal?: AbortSignal): Promise<void> {
    // a mirror failing midway hands over to the next host from the first byte not yet delivered
    let got = 0;
    const count = (b: Buffer) => {
      got += b.length;
      return onBytes(b);
    };
    return this.read(
      'pull',
      (r) => r.blobRangeStream(digest, offset + got, length - got, count, signal),
      () => super.blobRangeStream(digest, offset + got, length - got, count, signal),
    );
  }

  override blobRanges(digest: string, ranges: readonly ByteRange[], signal?: AbortSignal): Promise<Buffer[]> {
    return this.read('pull', (r) => r.blobRanges(digest, ranges, signal), () => super.blobRanges(digest, ranges, signal));
  }

  /** Close the mirrors' connection pools. */
  async closeMirrors(): Promise<void> {
    await Promise.allSettled(this.mirrors.map((m) => m.repository.client.close()));
  }

  /** Try each mirror that may do `capability` and is not resting, then the origin. */
  private async read<T>(capability: HostCapability, viaMirror: (r: Repository) => Promise<T>, viaOrigin: () => Promise<T>): Promise<T> {
    for (const m of this.mirrors) {
      if (!m.host.capabilities.has(capability) || m.downUntil > Date.now()) continue;
      try {
        return await viaMirror(m.repository);
      } catch (e) {
        if (isCtrError(e, 'Aborted')) throw e;
        m.downUntil = Date.now() + MIRROR_RETRY_AFTER_MS;
        this.mirrorOptions.onMirrorFailure?.(m.host.host, e);
      }
    }
    return viaOrigin();
  }
}

/**
 * What a mirror's client takes of the origin's options: not `-u`/`--refresh` credentials nor the `--tlscert`
 * client certificate, which were given for the origin. A mirror (any host of a `_default/hosts.toml`, plain
 * HTTP ones included) would otherwise get the origin's password on a Basic challenge, or hand it to a token
 * realm of its choosing. A mirror authenticates with what the Docker config holds for its own host, or with
 * the `client` certificate of its own `[host]` section.
 */
export function mirrorShared(o: ClientOptions): ClientOptions {
  const { username: _u, password: _p, refreshToken: _r, tlsClientCerts: _c, ...shared } = o;
  return shared;
}
