// `image rpull`: a lazy pull. Fetches the manifest and config, and for every eStargz layer only its footer
// and TOC (by Range), verified against the layer's toc.digest annotation; those layers are fetched later,
// chunk by chunk, by a mount. A layer that is not eStargz is pulled in full, and the result SAYS which
// layers are lazy and why the others are not (the reference silently falls back to a full pull). Only a blob
// that is not eStargz (bad footer, unreadable TOC) falls back; when the registry fails while the TOC is read
// (after the client's retries) or the TOC does not match its annotation, the rpull fails naming the layer.
// Annotations: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md

import { CtrError, invalidArgument, isCtrError, withContext } from '../../errors.js';
import { openEStargz } from '../../estargz/reader.js';
import { DEFAULT_IMAGE_LIMITS, type TocSummary } from '../../estargz/toc-limits.js';
import type { RangeReader } from '../../content/range-reader.js';
import { Annotation, layerCompression } from '../../oci/media-types.js';
import type { Descriptor, Platform } from '../../oci/types.js';
import { openBlobRangeReader } from '../../remote/blob-range-reader.js';
import type { RegistryEndpoint, RegistryOptions } from '../../remote/registry-endpoint.js';
import { openStore } from '../../store/image-store.js';
import { LayoutEndpoint } from '../../store/layout-endpoint.js';
import { credentialSource } from '../../remote/credential-source.js';
import { writeLazyRecord, writeLayerTail, type LazyLayerRecord } from './lazy-record.js';
import { openLocation, parseLocation } from '../location.js';
import { selectImageManifest } from '../platform.js';
import { readManifest, type FetchedManifest } from '../../content/read-manifest.js';

/** Options of rpullImage. */
export interface RpullOptions {
  /** Registry flags (`--plain-http`, `-u`, ...). */
  registry?: RegistryOptions;
  /** Platform to select from an index. Default: this host. */
  platform?: Platform;
  /** `--skip-content-verify`: accept a TOC that does not match its annotation. Default false. */
  skipContentVerify?: boolean;
  /** Called once per layer as soon as it is decided (for progressive output). */
  onLayer?: (layer: LazyLayerRecord, index: number) => void;
  signal?: AbortSignal;
}

/** What rpull stored. */
export interface RpullResult {
  name: string;
  descriptor: Descriptor;
  layers: LazyLayerRecord[];
}

/** Lazily pull `ref` into the store of `root` (see module comment). */
export async function rpullImage(root: string, ref: string, options: RpullOptions = {}): Promise<RpullResult> {
  const loc = parseLocation(ref);
  if (loc.kind !== 'reference') throw invalidArgument(`rpull takes a registry reference, not ${ref}`);
  const src = await openLocation(loc, 'registry', { root, ...(options.registry ? { registry: options.registry } : {}) });
  const registry = src.endpoint as RegistryEndpoint;
  const store = new LayoutEndpoint(await openStore(root), loc.name, { label: loc.name, requireLayers: false });
  const release = await store.layout.lease();
  try {
    const manifest = await selectManifest(registry, options);
    if (manifest.parsed.kind !== 'manifest') throw invalidArgument('nested index is not supported by rpull');
    const { config, layers } = manifest.parsed.manifest;
    await copyBlob(registry, store, config, options.signal);
    const records: LazyLayerRecord[] = [];
    const declared = { entries: 0, bytes: 0 };
    for (const [i, layer] of layers.entries()) {
      const rec = await pullLayer(root, registry, store, layer, declared, options).catch((e: unknown) => {
        throw withContext({ op: 'layer', subject: `${i} (${layer.digest.slice(0, 19)})` }, e);
      });
      records.push(rec);
      options.onLayer?.(rec, i);
    }
    await writeLazyRecord(root, {
      name: loc.name, manifestDigest: manifest.descriptor.digest, layers: records, pulledAt: new Date().toISOString(),
      credentials: credentialSource(options.registry),
    });
    await store.tag(manifest.descriptor, manifest.bytes, options.signal);
    return { name: loc.name, descriptor: manifest.descriptor, layers: records };
  } catch (e) {
    throw withContext({ op: 'rpull', subject: loc.name }, e); // an error about loc.name itself is not named twice
  } finally {
    await release();
    await src.close();
  }
}

async function selectManifest(registry: RegistryEndpoint, options: RpullOptions): Promise<FetchedManifest> {
  const root = await readManifest(registry, await registry.resolve(options.signal), options.signal);
  return selectImageManifest(registry, root, options.platform, options.signal);
}

/** Decide lazy or full for one layer; a lazy layer's TOC is verified and its tail saved. */
async function pullLayer(
  root: string,
  registry: RegistryEndpoint,
  store: LayoutEndpoint,
  layer: Descriptor,
  declared: { entries: number; bytes: number },
  options: RpullOptions,
): Promise<LazyLayerRecord> {
  const base = { digest: layer.digest, size: layer.size, mediaType: layer.mediaType };
  const why = whyNotLazy(layer);
  const toc = why === undefined ? await fetchToc(root, registry, layer, options) : { notEStargz: why };
  const over = 'tocDigest' in toc ? overImageLimits(declared, toc.summary) : undefined;
  if ('tocDigest' in toc && over === undefined) {
    declared.entries += toc.summary.entries;
    declared.bytes += toc.summary.regBytes;
    return { ...base, mode: 'lazy', tocDigest: toc.tocDigest };
  }
  await copyBlob(registry, store, layer, options.signal);
  return { ...base, mode: 'full', reason: over ?? ('notEStargz' in toc ? toc.notEStargz : '') };
}

/** Why one more lazy layer declaring `next` would take the image's lazy layers over DEFAULT_IMAGE_LIMITS, or undefined. */
function overImageLimits(declared: { entries: number; bytes: number }, next: TocSummary): string | undefined {
  const max = DEFAULT_IMAGE_LIMITS;
  const entries = declared.entries + next.entries;
  const bytes = declared.bytes + next.regBytes;
  if (entries > max.maxEntries) return `eStargz over a limit of lazy mounting: the image's lazy layers would declare ${entries} entries, over the limit of ${max.maxEntries} per image`;
  if (bytes > max.maxBytes) return `eStargz over a limit of lazy mounting: the image's lazy layers would declare ${bytes} bytes of files, over the limit of ${max.maxBytes} per image`;
  return undefined;
}

/** Why a layer descriptor cannot be mounted lazily, or undefined when it can be tried. */
export function whyNotLazy(layer: Descriptor): string | undefined {
  const compression = layerCompression(layer.mediaType);
  if (compression !== 'gzip' && compression !== 'zstd') return `media type ${layer.mediaType} is not eStargz or zstd:chunked`;
  if (!layer.annotations?.[Annotation.TocDigest]) return `no ${Annotation.TocDigest} annotation (not ${compression === 'gzip' ? 'eStargz' : 'zstd:chunked'})`;
  return undefined;
}

/**
 * Read footer + TOC by Range, verify the TOC against the annotation, save the blob's tail; returns the TOC
 * digest, or why the blob is not eStargz (its footer or TOC do not parse). A failure of the registry (what
 * the client's retries did not cure) or of the verification is thrown: it says nothing about the format.
 */
async function fetchToc(root: string, registry: RegistryEndpoint, layer: Descriptor, options: RpullOptions): Promise<{ tocDigest: string; summary: TocSummary } | { notEStargz: string }> {
  const want = layer.annotations?.[Annotation.TocDigest];
  const remote = await openBlobRangeReader(registry.repository, layer.digest, { size: layer.size, ...(options.signal ? { signal: options.signal } : {}) });
  const reader = new TailFirstReader(remote);
  let opened: Awaited<ReturnType<typeof openEStargz>>;
  try {
    opened = await openEStargz(reader, { ...(options.skipContentVerify ? {} : { tocDigest: want }), ...(options.signal ? { signal: options.signal } : {}) });
  } catch (e) {
    if (reader.failure !== undefined) throw withContext({ op: 'reading its TOC' }, reader.failure);
    if (isCtrError(e, 'DigestMismatch') || isCtrError(e, 'Aborted') || options.signal?.aborted) throw e;
    if (isCtrError(e, 'LimitExceeded')) return { notEStargz: `eStargz over a limit of lazy mounting: ${e.message}` };
    return { notEStargz: `not a readable eStargz blob: ${e instanceof Error ? e.message : String(e)}` };
  }
  // keep at least the last MIN_TAIL bytes: the reader's first read of a blob looks at that many
  const start = Math.max(0, Math.min(opened.tocOffset - 8, layer.size - MIN_TAIL));
  await writeLayerTail(root, layer.digest, await reader.readAt(start, layer.size - start));
  return { tocDigest: opened.tocDigest, summary: opened.summary };
}

async function copyBlob(registry: RegistryEndpoint, store: LayoutEndpoint, desc: Descriptor, signal?: AbortSignal): Promise<void> {
  if (await store.has(desc)) return;
  try {
    await store.put(desc, await registry.fetch(desc, signal), signal);
  } catch (e) {
    throw e instanceof CtrError ? e : withContext({ op: 'fetch blob', subject: desc.digest }, e);
  }
}

/** Smallest tail saved for a lazy layer (covers the largest footer the reader probes for). */
const MIN_TAIL = 64;

/**
 * Bytes read from the end of a blob in the first request: the footer and, for layers of up to a few
 * hundred files, the whole TOC. At 100 Mbit/s 64 KiB cost ~5 ms, a second round trip ~20 ms.
 */
export const TAIL_GUESS = 64 << 10;

/**
 * A RangeReader for opening a remote TOC in as few round trips as possible: the first read fetches the
 * last TAIL_GUESS bytes, and every read inside them is served from memory (footer + TOC in one request
 * unless the compressed TOC is larger).
 */
class TailFirstReader implements RangeReader {
  private tail: Buffer | undefined;
  /** The first error of a read from the registry (as opposed to one of parsing what was read). */
  failure: unknown;
  constructor(private readonly inner: RangeReader) {}
  get size(): number {
    return this.inner.size;
  }
  async readAt(offset: number, length: number, options?: { signal?: AbortSignal }): Promise<Buffer> {
    try {
      return await this.read(offset, length, options);
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }
  private async read(offset: number, length: number, options?: { signal?: AbortSignal }): Promise<Buffer> {
    const start = Math.max(0, this.size - TAIL_GUESS);
    this.tail ??= await this.inner.readAt(start, this.size - start, options);
    if (offset >= start && offset + length <= this.size) return this.tail.subarray(offset - start, offset - start + length);
    if (offset + length > start && offset + length <= this.size) {
      // a TOC larger than the guess: fetch only the part before the tail
      const head = await this.inner.readAt(offset, start - offset, options);
      return Buffer.concat([head, this.tail.subarray(0, offset + length - start)]);
    }
    return this.inner.readAt(offset, length, options);
  }
}
