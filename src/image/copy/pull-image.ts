// `image pull`: copy an image from a registry into the local store under its full normalized name.
// The store holds a lease while blobs arrive so a concurrent `rm` (gc) cannot delete them before the name
// is set; the name is set last, so a killed pull leaves no visible image and the next pull resumes.
import { invalidArgument } from '../../errors.js';
import type { Descriptor } from '../../oci/types.js';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import { copyImage, type CopyOptions } from './copy-image.js';
import type { Context } from '../context.js';
import { openLocation, openStoreImage, parseLocation } from '../location.js';

export interface PullOptions extends CopyOptions {
  /** Registry flags (`--plain-http`, `-k`, `-u`, ...). */
  registry?: RegistryOptions;
}

/** What a pull stored. */
export interface PullResult {
  /** The store name (full normalized reference). */
  name: string;
  descriptor: Descriptor;
  /** Bytes of config and layers the image references. */
  contentSize: number;
}

/** Pull `ref` into the store (see module comment). */
export async function pullImage(ctx: Context, ref: string, options: PullOptions = {}): Promise<PullResult> {
  const loc = parseLocation(ref);
  if (loc.kind !== 'reference') throw invalidArgument(`pull takes a registry reference, not ${ref} (use image tag to copy from an oci: layout)`);
  const src = await openLocation(loc, 'registry', { context: ctx, ...(options.registry ? { registry: options.registry } : {}) });
  const dst = await openStoreImage(ctx, loc.name);
  const release = await dst.layout.lease();
  try {
    const result = await copyImage(src.endpoint, dst, options);
    return { name: loc.name, descriptor: result.descriptor, contentSize: result.contentSize };
  } finally {
    await release();
    await src.close();
  }
}
