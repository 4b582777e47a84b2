// optimize's final conversion: one convertImage call in which only the optimized platform's manifest
// gets the recorded files first, per layer, as the reference's optimize does: a layer gets the paths
// attributed to it (so `.prefetch.landmark` after them), a layer without accesses gets none (so
// `.no.prefetch.landmark`, or it is kept as it is with --reuse when it already is eStargz). With
// --all-platforms the other manifests are converted without priorities under a new index.
import type { Descriptor } from '../../oci/types.js';
import { convertImage, type ConvertImageOptions, type ConvertImageResult } from '../convert/convert.js';
import type { ImageSink, ImageSource } from '../../content/endpoint.js';
import type { FetchedManifest } from '../../content/read-manifest.js';

/** `src` with its root replaced by `desc` (a manifest or index inside it). */
export function scopedSource(src: ImageSource, desc: Descriptor): ImageSource {
  return { label: `${src.label}@${desc.digest}`, resolve: async () => desc, fetch: (d, signal) => src.fetch(d, signal) };
}

/** What the final conversion works on. */
export interface FinalConversion {
  /** The source root as resolved (a manifest, or an index with `allPlatforms`). */
  top: FetchedManifest;
  /** The manifest that gets priorities (undefined: none does). */
  optimized: Descriptor | undefined;
  /** The recorded paths of each layer index of `optimized`, in access order (undefined: no priorities). */
  perLayer: ReadonlyMap<number, readonly string[]> | undefined;
}

/** Convert `c.top` from `src` into `dst` and name it there (see module comment). */
export async function convertFinal(src: ImageSource, dst: ImageSink, c: FinalConversion, opts: ConvertImageOptions): Promise<ConvertImageResult> {
  const base: ConvertImageOptions = { ...opts, allPlatforms: c.top.parsed.kind === 'index' };
  delete base.prioritizedFiles;
  const { perLayer, optimized } = c;
  const layerPriorities = (manifestDigest: string, index: number) => (manifestDigest === optimized?.digest ? perLayer?.get(index) : undefined);
  return convertImage(scopedSource(src, c.top.descriptor), dst, { ...base, layerPriorities });
}
