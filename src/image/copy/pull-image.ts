// `image pull` (and `content fetch`): copy an image from a registry into the local store under its full
// normalized name, with the labels given. The store holds a lease while blobs arrive so a concurrent `rm`
// (gc) cannot delete them before the name is set; the name is set last, so a killed pull leaves no visible
// image and the next pull resumes.
import { invalidArgument } from '../../errors.js';
import { chainIds } from '../../oci/chain-id.js';
import type { Descriptor, Platform } from '../../oci/types.js';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import { copyImage, type CopyOptions } from './copy-image.js';
import type { Context } from '../context.js';
import { checkImageLabels } from './image-labels.js';
import { openLocation, openStoreImage, parseLocation } from '../location.js';
import { openStoredImage } from '../stored-image.js';

export interface PullOptions extends CopyOptions {
  /** Registry flags (`--plain-http`, `-k`, `-u`, ...). */
  registry?: RegistryOptions;
  /** Labels stored with the name (`--label`); default none. */
  labels?: Record<string, string>;
}

/** What a pull stored. */
export interface PullResult {
  /** The store name (full normalized reference). */
  name: string;
  descriptor: Descriptor;
  /** Bytes of config and layers the image references. */
  contentSize: number;
  /** The chain ID of the layers of the pulled (or selected) platform; absent when the store has no config for it. */
  chainId?: string;
}

/** Pull `ref` into the store (see module comment). */
export async function pullImage(ctx: Context, ref: string, options: PullOptions = {}): Promise<PullResult> {
  const loc = parseLocation(ref);
  if (loc.kind !== 'reference') throw invalidArgument(`pull takes a registry reference, not ${ref} (use image tag to copy from an oci: layout)`);
  if (options.labels) checkImageLabels(options.labels);
  const src = await openLocation(loc, 'registry', { context: ctx, ...(options.registry ? { registry: options.registry } : {}) });
  const partial = options.allMetadata === true || options.metadataOnly === true;
  const dst = await openStoreImage(ctx, loc.name, { ...(partial ? { requireLayers: false } : {}), ...(options.labels ? { labels: options.labels } : {}) });
  const release = await dst.layout.lease();
  try {
    const result = await copyImage(src.endpoint, dst, options);
    const chainId = await storedChainId(ctx, loc.name, options.platform);
    return { name: loc.name, descriptor: result.descriptor, contentSize: result.contentSize, ...(chainId ? { chainId } : {}) };
  } finally {
    await release();
    await src.close();
  }
}

/** The chain ID of a stored image's platform (the asked one, else the host's), or undefined when it has none. */
async function storedChainId(ctx: Context, name: string, platform: Platform | undefined): Promise<string | undefined> {
  const image = await openStoredImage(ctx, name, platform).catch(() => undefined);
  return image ? chainIds(image.config.rootfs.diff_ids).at(-1) : undefined;
}
