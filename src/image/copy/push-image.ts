// `image push REF [LOCAL-REF]`: copy the store image LOCAL-REF (default REF) to the registry location
// REF. Either side may also be an `oci:DIR[:TAG]` layout.
import { invalidArgument } from '../../errors.js';
import type { Descriptor } from '../../oci/types.js';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import { copyImage, type CopyOptions } from './copy-image.js';
import { openLocation, parseLocation } from '../location.js';
import type { Context } from '../context.js';

export interface PushOptions extends CopyOptions {
  /** Registry flags (`--plain-http`, `-k`, `-u`, ...). */
  registry?: RegistryOptions;
}

/** What a push sent. */
export interface PushResult {
  /** Where it went (normalized reference or oci: location). */
  target: string;
  descriptor: Descriptor;
  contentSize: number;
}

/** Push the local image `localRef` (default `ref`) to `ref` (see module comment). */
export async function pushImage(ctx: Context, ref: string, localRef: string | undefined, options: PushOptions = {}): Promise<PushResult> {
  const dstLoc = parseLocation(ref);
  if (localRef === undefined && dstLoc.kind === 'layout') throw invalidArgument(`push to ${ref} needs LOCAL-REF (the store image to push)`);
  const srcLoc = parseLocation(localRef ?? ref);
  const registry: RegistryOptions = { ...options.registry, ...(options.onProgress ? { onProgress: mountedOnly(options.onProgress) } : {}) };
  const endpoints = { context: ctx, registry };
  const src = await openLocation(srcLoc, 'store', endpoints);
  try {
    const dst = await openLocation(dstLoc, 'registry', endpoints, true);
    try {
      // The whole local image goes out as it is (an index stays an index) unless --platform picks one.
      const result = await copyImage(src.endpoint, dst.endpoint, { allPlatforms: options.platform === undefined, ...options });
      return { target: dstLoc.kind === 'layout' ? dstLoc.text : dstLoc.name, descriptor: result.descriptor, contentSize: result.contentSize };
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** The registry sink reports cross-repository mounts, which the generic copy cannot see. */
function mountedOnly(onProgress: NonNullable<CopyOptions['onProgress']>): NonNullable<RegistryOptions['onProgress']> {
  return (p) => {
    if (p.state === 'mounted') onProgress(p);
  };
}
