// optimize's final conversion, one manifest at a time: only the optimized platform's manifest gets the
// recorded files first (per layer, optimize-layers.ts); with --all-platforms the other manifests are
// converted without priorities and a new index is written over all of them.
import { sha256Digest } from '../oci/digest.js';
import { isIndexType, isManifestType, MediaType, isDockerType } from '../oci/media-types.js';
import type { Descriptor, Index } from '../oci/types.js';
import { convertImage, type ConvertImageOptions, type ConvertImageResult } from './convert.js';
import type { ImageSink, ImageSource } from './endpoint.js';
import { convertPerLayer } from './optimize-layers.js';
import type { FetchedManifest } from './read-manifest.js';

/** `src` with its root replaced by `desc` (a manifest or index inside it). */
export function scopedSource(src: ImageSource, desc: Descriptor): ImageSource {
  return { label: `${src.label}@${desc.digest}`, resolve: async () => desc, fetch: (d, signal) => src.fetch(d, signal) };
}

/** `dst` without naming: blobs and manifests are written, the name is set by the caller. */
function unnamedSink(dst: ImageSink): ImageSink {
  return { label: dst.label, has: (d, s) => dst.has(d, s), put: (d, c, s) => dst.put(d, c, s), tag: async () => {} };
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
  const base: ConvertImageOptions = { ...opts, allPlatforms: false };
  delete base.prioritizedFiles;
  const sink = unnamedSink(dst);
  const convertOne = (d: Descriptor, to: ImageSink): Promise<ConvertImageResult> =>
    c.perLayer && d.digest === c.optimized?.digest ? convertPerLayer(src, to, d, c.perLayer, base) : convertImage(scopedSource(src, d), to, base);
  if (c.top.parsed.kind !== 'index') {
    const out = await convertOne(c.top.descriptor, sink);
    await dst.tag(out.descriptor, out.bytes, opts.signal);
    return out;
  }
  const manifests: Descriptor[] = [];
  const layers: ConvertImageResult['layers'] = [];
  for (const child of c.top.parsed.index.manifests) {
    if (!isManifestType(child.mediaType) && !isIndexType(child.mediaType)) {
      if (!(await dst.has(child, opts.signal))) await dst.put(child, await src.fetch(child, opts.signal), opts.signal);
      manifests.push(child);
      continue;
    }
    const out = isIndexType(child.mediaType) ? await convertImage(scopedSource(src, child), sink, { ...base, allPlatforms: true }) : await convertOne(child, sink);
    layers.push(...out.layers);
    manifests.push({ ...child, mediaType: out.descriptor.mediaType, digest: out.descriptor.digest, size: out.descriptor.size });
  }
  const mediaType = opts.oci || !isDockerType(c.top.descriptor.mediaType) ? MediaType.OciIndex : c.top.descriptor.mediaType;
  const annotations = c.top.parsed.index.annotations;
  const index: Index = { schemaVersion: 2, mediaType, manifests, ...(annotations ? { annotations } : {}) };
  const bytes = Buffer.from(JSON.stringify(index));
  const descriptor: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  if (!(await dst.has(descriptor, opts.signal))) await dst.put(descriptor, one(bytes), opts.signal);
  await dst.tag(descriptor, bytes, opts.signal);
  return { descriptor, bytes, layers };
}

async function* one(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
