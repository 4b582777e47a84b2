// The optimized manifest's final conversion with priorities PER LAYER, as the reference's optimize does:
// a layer gets the paths attributed to it (so `.prefetch.landmark` after them), a layer without accesses
// gets none (so `.no.prefetch.landmark`, or kept as it is with --reuse when it already is eStargz).
// convertImage takes one option set per image, so each layer is converted as a one-layer image (a
// synthetic manifest and config served over the real source), only its layer blob reaches DST, and the
// new config and manifest are assembled here the way convert.ts does.
import { sha256Digest } from '../oci/digest.js';
import { isDockerType, MediaType } from '../oci/media-types.js';
import type { Descriptor, ImageConfig, Manifest } from '../oci/types.js';
import { convertImage, type ConvertedLayerInfo, type ConvertImageOptions, type ConvertImageResult } from './convert.js';
import type { ImageSink, ImageSource } from './endpoint.js';
import { readManifest } from './read-manifest.js';
import { readVerified } from './verified-stream.js';

/** Convert manifest `desc` of `src` into `dst` (not named) with `perLayer[i]` first in layer i. */
export async function convertPerLayer(
  src: ImageSource,
  dst: ImageSink,
  desc: Descriptor,
  perLayer: ReadonlyMap<number, readonly string[]>,
  opts: ConvertImageOptions,
): Promise<ConvertImageResult> {
  const fetched = await readManifest(src, desc, opts.signal);
  if (fetched.parsed.kind !== 'manifest') return convertImage(src, dst, opts);
  const manifest = fetched.parsed.manifest;
  const config = JSON.parse((await readVerified(manifest.config, await src.fetch(manifest.config, opts.signal))).toString('utf8')) as ImageConfig;
  const diffIds = config.rootfs?.diff_ids ?? [];
  const layers: ConvertedLayerInfo[] = [];
  const warned = new Set<string>();
  const onWarning = (m: string) => {
    if (!warned.has(m)) opts.onWarning?.(m);
    warned.add(m);
  };
  for (const [i, layer] of manifest.layers.entries()) {
    const one = oneLayerImage(manifest, config, layer, diffIds[i] ?? '');
    const files = perLayer.get(i);
    const layerOpts: ConvertImageOptions = { ...opts, onWarning, allPlatforms: false, ...(files?.length ? { prioritizedFiles: files } : {}) };
    if (!files?.length) delete layerOpts.prioritizedFiles;
    const out = await convertImage(one.source(src), layersOnly(dst, one), layerOpts);
    layers.push(...out.layers);
  }
  return assemble(dst, desc, manifest, config, layers, opts);
}

interface OneLayerImage {
  manifest: Descriptor;
  config: Descriptor;
  source(src: ImageSource): ImageSource;
}

/** A manifest and config naming only `layer`, served from memory over `src`'s blobs. */
function oneLayerImage(manifest: Manifest, config: ImageConfig, layer: Descriptor, diffId: string): OneLayerImage {
  const configBytes = Buffer.from(JSON.stringify({ ...config, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const configDesc: Descriptor = { mediaType: manifest.config.mediaType, digest: sha256Digest(configBytes), size: configBytes.length };
  const m: Manifest = { schemaVersion: 2, ...(manifest.mediaType ? { mediaType: manifest.mediaType } : {}), config: configDesc, layers: [layer] };
  const mBytes = Buffer.from(JSON.stringify(m));
  const mDesc: Descriptor = { mediaType: manifest.mediaType ?? MediaType.OciManifest, digest: sha256Digest(mBytes), size: mBytes.length };
  const memory = new Map([
    [mDesc.digest, mBytes],
    [configDesc.digest, configBytes],
  ]);
  return {
    manifest: mDesc,
    config: configDesc,
    source: (src) => ({
      label: src.label,
      resolve: async () => mDesc,
      fetch: async (d, signal) => {
        const bytes = memory.get(d.digest);
        return bytes ? once(bytes) : src.fetch(d, signal);
      },
    }),
  };
}

/** `dst` receiving only layer blobs: the one-layer image's own config and manifest are dropped. */
function layersOnly(dst: ImageSink, one: OneLayerImage): ImageSink {
  const isLayer = (d: Descriptor) => d.mediaType !== one.manifest.mediaType && !isConfigType(d.mediaType) && d.digest !== one.config.digest;
  return {
    label: dst.label,
    has: async (d, s) => !isLayer(d) || dst.has(d, s),
    put: async (d, c, s) => (isLayer(d) ? dst.put(d, c, s) : undefined),
    tag: async () => {},
  };
}

function isConfigType(mt: string): boolean {
  return mt === MediaType.OciConfig || mt === MediaType.DockerConfig;
}

/** The new config (diff_ids) and manifest over the converted layers, written to `dst`. */
async function assemble(
  dst: ImageSink,
  desc: Descriptor,
  manifest: Manifest,
  config: ImageConfig,
  layers: ConvertedLayerInfo[],
  opts: ConvertImageOptions,
): Promise<ConvertImageResult> {
  const useOci = opts.oci === true || !isDockerType(manifest.mediaType ?? desc.mediaType);
  const newConfig = { ...config, rootfs: { ...config.rootfs, type: config.rootfs?.type ?? 'layers', diff_ids: layers.map((l) => l.diffId) } };
  const configMediaType = useOci ? MediaType.OciConfig : manifest.config.mediaType;
  const cfg = await putJson(dst, configMediaType, newConfig, opts.signal);
  const mediaType = useOci ? MediaType.OciManifest : (manifest.mediaType ?? desc.mediaType);
  const out: Manifest = {
    schemaVersion: 2,
    mediaType,
    config: { ...manifest.config, mediaType: configMediaType, digest: cfg.descriptor.digest, size: cfg.descriptor.size },
    layers: layers.map((l) => l.to),
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
  const m = await putJson(dst, mediaType, out, opts.signal);
  return { ...m, layers };
}

async function putJson(dst: ImageSink, mediaType: string, json: unknown, signal?: AbortSignal): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
  const bytes = Buffer.from(JSON.stringify(json));
  const descriptor: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
  if (!(await dst.has(descriptor, signal))) await dst.put(descriptor, once(bytes), signal);
  return { descriptor, bytes };
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
