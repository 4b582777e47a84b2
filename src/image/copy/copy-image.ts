// Copy one image between any two endpoints (registry, local store, oci: layout): resolve, pick the
// platform, copy config and layers in parallel (bounded, verified, skipped when present; in a store or
// layout only when intact, a corrupt copy is replaced), then the manifest, then the index, and finally
// point the destination's name at the root. Because the name is set last, an interrupted copy never
// leaves a visible partial image.
import type { Descriptor, Platform } from '../../oci/types.js';
import { isIndexType, isManifestType } from '../../oci/media-types.js';
import { hasVerifiedCheck, type BlobProgress, type ImageSink, type ImageSource } from '../../content/endpoint.js';
import { selectImageManifest } from '../platform.js';
import { readManifest, type FetchedManifest } from '../../content/read-manifest.js';
import { countedStream, verifiedStream } from '../../content/verified-stream.js';
import { TaskLimit } from '../../layer/task-limit.js';

export interface CopyOptions {
  /** Platform to select from an index (default: this host, e.g. linux/amd64). */
  platform?: Platform;
  /** Copy every platform of an index and name the index itself (default false: name the selected manifest). */
  allPlatforms?: boolean;
  /**
   * With an index: copy the manifest and config of every platform but the layers of the selected one only,
   * and name the index (default false). The destination must accept an image without every layer.
   */
  allMetadata?: boolean;
  /** Copy manifests and configs only, no layers (default false); same condition on the destination. */
  metadataOnly?: boolean;
  /** Blobs transferred at once (default 3). */
  concurrency?: number;
  /** Called as blobs start, progress, finish or are skipped. */
  onProgress?: (p: BlobProgress) => void;
  /** Told about a corrupt blob found at the destination (it is replaced). Default: nothing. */
  onWarning?: (message: string) => void;
  signal?: AbortSignal;
}

/** What was copied: the descriptor now named at the destination, and its manifest bytes. */
export interface CopyResult {
  descriptor: Descriptor;
  bytes: Buffer;
  /** Total bytes of config and layers referenced (copied or already present). */
  contentSize: number;
}

/** Copy the image `src` resolves to into `dst` (see module comment). */
export async function copyImage(src: ImageSource, dst: ImageSink, options: CopyOptions = {}): Promise<CopyResult> {
  const inner = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, inner.signal]) : inner.signal;
  const copier = new Copier(src, dst, { ...options, signal }, () => inner.abort());
  const rootDesc = await src.resolve(signal);
  const root = await readManifest(src, rootDesc, signal);
  const selected = options.allPlatforms ? root : await copier.selected(root);
  const top = options.allMetadata ? root : selected;
  // Whose layers are copied: every manifest's (all platforms), the selected one's, or none.
  const layersOf = options.metadataOnly ? () => false : options.allPlatforms || top === selected ? () => true : (d: Descriptor) => d.digest === selected.descriptor.digest;
  await copier.tree(top, layersOf);
  await dst.tag(top.descriptor, top.bytes, signal);
  return { descriptor: top.descriptor, bytes: top.bytes, contentSize: copier.contentSize };
}

class Copier {
  contentSize = 0;
  private readonly blobs = new Map<string, Promise<void>>();
  private readonly limit: TaskLimit;

  constructor(
    private readonly src: ImageSource,
    private readonly dst: ImageSink,
    private readonly options: CopyOptions & { signal: AbortSignal },
    private readonly abortSiblings: () => void,
  ) {
    this.limit = new TaskLimit(Math.max(1, options.concurrency ?? 3));
  }

  /** The manifest for the wanted platform (rules in platform.ts). */
  async selected(root: FetchedManifest): Promise<FetchedManifest> {
    return selectImageManifest(this.src, root, this.options.platform, this.options.signal);
  }

  /** Copy everything below a manifest or index (the layers of the manifests `layersOf` accepts), then the manifest/index itself. */
  async tree(m: FetchedManifest, layersOf: (manifest: Descriptor) => boolean): Promise<void> {
    if (m.parsed.kind === 'index') {
      const children = m.parsed.index.manifests.filter((d) => isManifestType(d.mediaType) || isIndexType(d.mediaType));
      await this.all(children.map(async (d) => this.tree(await readManifest(this.src, d, this.options.signal), layersOf)));
    } else {
      const { config, layers } = m.parsed.manifest;
      await this.all([config, ...(layersOf(m.descriptor) ? layers : [])].map((d) => this.blob(d)));
    }
    if (!(await this.present(m.descriptor))) await this.dst.put(m.descriptor, single(m.bytes), this.options.signal);
  }

  /**
   * Whether the destination already holds `desc`. A sink that can verify what it holds (the store) hashes
   * it: a blob with a flipped byte or a wrong size is not trusted but removed, reported, and copied again.
   */
  private async present(desc: Descriptor): Promise<boolean> {
    if (!hasVerifiedCheck(this.dst)) return this.dst.has(desc, this.options.signal);
    const found = await this.dst.checkExisting(desc, this.options.signal);
    if (typeof found === 'object') {
      this.options.onWarning?.(`${desc.digest} in ${this.dst.label} was corrupt (${found.corrupt}); copying it again`);
    }
    return found === 'intact';
  }

  /** Run tasks concurrently; the first failure aborts the others and is rethrown once all settled. */
  private async all(tasks: Promise<void>[]): Promise<void> {
    let first: { error: unknown } | undefined;
    await Promise.all(
      tasks.map((t) =>
        t.catch((error: unknown) => {
          first ??= { error };
          this.abortSiblings();
        }),
      ),
    );
    if (first) throw first.error;
  }

  private blob(desc: Descriptor): Promise<void> {
    let p = this.blobs.get(desc.digest);
    if (!p) {
      this.contentSize += desc.size;
      p = this.limit.run(() => this.copyBlob(desc));
      this.blobs.set(desc.digest, p);
    }
    return p;
  }

  private async copyBlob(desc: Descriptor): Promise<void> {
    const { signal, onProgress } = this.options;
    signal.throwIfAborted();
    const event = (state: BlobProgress['state'], done: number) =>
      onProgress?.({ digest: desc.digest, mediaType: desc.mediaType, done, total: desc.size, state });
    if (await this.present(desc)) return event('skipped', desc.size);
    event('started', 0);
    const source = await this.src.fetch(desc, signal);
    const onBytes = (done: number) => event('progress', done);
    // A sink that verifies what it stores is not made to hash everything a second time.
    const body = verifiesContent(this.dst) ? countedStream(desc, source, onBytes) : verifiedStream(desc, source, onBytes);
    await this.dst.put(desc, body, signal);
    event('done', desc.size);
  }
}

/** Optional sink capability: `put` checks size and digest itself (the OCI layout does). */
function verifiesContent(sink: ImageSink): boolean {
  return (sink as { verifiesContent?: boolean }).verifiesContent === true;
}

async function* single(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
