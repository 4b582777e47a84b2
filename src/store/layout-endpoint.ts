// One image name in an OCI layout as an ImageSource and ImageSink, so that copies between the store,
// `oci:DIR[:TAG]` layouts and registries are the same code (image/copy-image.ts).
import { CtrError, invalidArgument, notFound } from '../errors.js';
import type { BlobProgress, ExistingBlob, ImageSink, ImageSource, VerifyingSink } from '../content/endpoint.js';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import { childDescriptors, MAX_MANIFEST_SIZE, parseManifestJson } from '../oci/manifest-json.js';
import type { OciLayout } from './oci-layout.js';

export type { BlobProgress };

export interface LayoutEndpointOptions {
  /** Label for messages (default `oci:<dir>:<name>`). */
  label?: string;
  /**
   * When tagging, require every layer to be present (default true). Lazily pulled images set false:
   * their layers stay in the registry.
   */
  requireLayers?: boolean;
  /** Labels stored with the name when tagging (as annotations of its index.json entry); default: the descriptor's own. */
  labels?: Record<string, string>;
}

/** An image name (`name`) in `layout`, readable and writable. With no name, resolve picks the only image. */
export class LayoutEndpoint implements ImageSource, ImageSink, VerifyingSink {
  readonly label: string;
  /** put() verifies size and digest (through the blob writer), so copies need not hash twice. */
  readonly verifiesContent = true;

  constructor(
    readonly layout: OciLayout,
    readonly name: string | undefined,
    private readonly options: LayoutEndpointOptions = {},
  ) {
    this.label = options.label ?? `oci:${layout.dir}${name !== undefined ? `:${name}` : ''}`;
  }

  /** The named descriptor; without a name, the single image of the layout (or one named `latest`). */
  async resolve(): Promise<Descriptor> {
    if (this.name !== undefined) {
      const d = await this.layout.find(this.name);
      if (!d) throw notFound(`image ${this.name} not found in ${this.layout.dir}`);
      return d;
    }
    const index = await this.layout.readIndex();
    const named = await this.layout.list();
    const latest = named.find((n) => n.name === 'latest');
    if (latest) return latest.descriptor;
    const only = index.manifests[0];
    if (index.manifests.length === 1 && only) return only;
    if (index.manifests.length === 0) throw notFound(`${this.layout.dir} holds no image`);
    throw invalidArgument(`${this.layout.dir} holds ${index.manifests.length} images; name one of: ${named.map((n) => n.name).join(', ')}`);
  }

  async fetch(desc: Descriptor, signal?: AbortSignal): Promise<AsyncIterable<Buffer>> {
    return this.layout.stream(desc.digest, signal ? { signal } : {});
  }

  async has(desc: Descriptor): Promise<boolean> {
    return this.layout.has(desc.digest, desc.size);
  }

  /** Hash a blob that is already stored; a corrupt copy (wrong size or sha256) is deleted so it can be replaced. */
  async checkExisting(desc: Descriptor, signal?: AbortSignal): Promise<ExistingBlob> {
    const problem = await this.layout.removeIfCorrupt(desc.digest, { size: desc.size, ...(signal ? { signal } : {}) });
    if (problem === undefined) return 'intact';
    return problem === 'missing' ? 'absent' : { corrupt: problem };
  }

  async put(desc: Descriptor, content: AsyncIterable<Buffer>, signal?: AbortSignal): Promise<void> {
    const w = await this.layout.writer({ digest: desc.digest, size: desc.size, ...(signal ? { signal } : {}) });
    try {
      for await (const chunk of content) await w.write(chunk);
    } catch (e) {
      await w.abort();
      throw e;
    }
    await w.commit();
  }

  /** Name `desc` after checking that everything it references is stored (manifests, configs, and layers unless lazy). */
  async tag(desc: Descriptor, bytes: Buffer, signal?: AbortSignal): Promise<void> {
    if ((await this.layout.verify(desc.digest, { size: desc.size })) !== undefined) await this.layout.putBytes(bytes, desc.digest);
    await this.checkComplete(desc);
    const labels = this.options.labels;
    const named = labels && Object.keys(labels).length ? { ...desc, annotations: { ...desc.annotations, ...labels } } : desc;
    await this.layout.setName(this.name ?? 'latest', named, signal ? { signal } : {});
  }

  private async checkComplete(root: Descriptor): Promise<void> {
    const requireLayers = this.options.requireLayers ?? true;
    const queue = [root];
    for (let d = queue.pop(); d; d = queue.pop()) {
      if (!(await this.layout.has(d.digest, d.size))) {
        const why = `blob ${d.digest} is missing from ${this.layout.dir}`;
        throw new CtrError('Conflict', `cannot name ${this.name ?? 'latest'}: ${why}`);
      }
      if (!isManifestType(d.mediaType) && !isIndexType(d.mediaType)) continue;
      const parsed = parseManifestJson(await this.layout.readBytes(d.digest, MAX_MANIFEST_SIZE), d);
      if (parsed.kind === 'manifest' && !requireLayers) queue.push(parsed.manifest.config);
      else queue.push(...childDescriptors(parsed));
    }
  }
}
