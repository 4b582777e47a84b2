// `image tag SRC DST`: give a store image another name. Either side may be an `oci:DIR[:TAG]` layout,
// in which case the image is copied between the layout and the store.
import type { Descriptor } from '../../oci/types.js';
import { copyImage, type CopyOptions } from './copy-image.js';
import type { Context } from '../context.js';
import { openLocation, openStoreImage, parseLocation } from '../location.js';

/** The name (or oci: location) now pointing at `descriptor`. */
export interface TagResult {
  target: string;
  descriptor: Descriptor;
}

/** Point DST at the image SRC names (see module comment). */
export async function tagImage(ctx: Context, src: string, dst: string, options: CopyOptions = {}): Promise<TagResult> {
  const srcLoc = parseLocation(src);
  const dstLoc = parseLocation(dst);
  if (srcLoc.kind === 'reference' && dstLoc.kind === 'reference') {
    const store = (await openStoreImage(ctx, srcLoc.name)).layout;
    const descriptor = await store.get(srcLoc.name);
    await store.setName(dstLoc.name, descriptor, options.signal ? { signal: options.signal } : {});
    return { target: dstLoc.name, descriptor };
  }
  const from = await openLocation(srcLoc, 'store', { context: ctx });
  const to = await openLocation(dstLoc, 'store', { context: ctx }, true);
  const release = dstLoc.kind === 'reference' && 'layout' in to.endpoint ? await to.endpoint.layout.lease() : async () => {};
  try {
    const { descriptor } = await copyImage(from.endpoint, to.endpoint, { allPlatforms: options.platform === undefined, ...options });
    return { target: dstLoc.kind === 'reference' ? dstLoc.name : dstLoc.text, descriptor };
  } finally {
    await release();
  }
}
