// `image convert`: rewrite an image's layers as eStargz (or zstd:chunked, or plain tar), with a new config
// (diff_ids) and manifest (layer annotations), and an index when converting every platform. Layers are
// converted one after another on one shared compression pool; the destination name is set last, so a
// failure leaves nothing visible under it.
import { tmpdir } from 'node:os';
import { invalidArgument, limitExceeded, unsupported, withContext } from '../../errors.js';
import { MAX_CONFIG_SIZE } from '../../oci/manifest-json.js';
import { GzipPool } from '../../estargz/gzip-pool.js';
import { tocTailSize } from '../../estargz/toc-tail.js';
import type { BuildEStargzResult } from '../../estargz/writer.js';
import { sha256Digest } from '../../oci/digest.js';
import { Annotation, isDockerType, isIndexType, isManifestType, layerCompression, MediaType } from '../../oci/media-types.js';
import type { Descriptor, ImageConfig, Index, Manifest, Platform } from '../../oci/types.js';
import { removeDeadOwned } from '../../host/owned-names.js';
import { fileChunks } from '../../content/file-chunks.js';
import { canReuseLayer, convertLayer, CONVERT_TEMP_PREFIXES } from './convert-layer.js';
import type { ImageSink, ImageSource } from '../../content/endpoint.js';
import { selectImageManifest } from '../platform.js';
import { readManifest, type FetchedManifest } from '../../content/read-manifest.js';
import { readVerified } from '../../content/verified-stream.js';

/** Options of convertImage. */
export interface ConvertImageOptions {
  /** Target layer format. */
  format: 'estargz' | 'zstdchunked' | 'uncompress';
  /** Write OCI media types (default false: keep the source's, with a warning for Docker ones). */
  oci?: boolean;
  /** Compression level (default 9 for eStargz, 3 for zstd:chunked). */
  level?: number;
  /** Chunk size in bytes (default 4 MiB). */
  chunkSize?: number;
  /** Min chunk size (default 0: one member per payload). */
  minChunkSize?: number;
  /** Files to put first in every layer (from --estargz-record-in). */
  prioritizedFiles?: readonly string[];
  /**
   * Per-layer priorities, in place of `prioritizedFiles` (optimize): called for each layer of each
   * converted manifest with the manifest digest and the layer index (0 = base). See LayerPriority.
   * Default: `prioritizedFiles` for every layer.
   */
  layerPriorities?: (manifestDigest: string, layerIndex: number) => LayerPriority;
  /** Keep layers that already are valid eStargz and hold no prioritized file (default false). */
  reuse?: boolean;
  /** Platform to pick from an index (default: this host). */
  platform?: Platform;
  /** Convert every platform of an index and write a new index (default false). */
  allPlatforms?: boolean;
  /** Compression worker threads (default: libuv's threadpool for gzip, 2 workers for zstd; see gzip-pool.ts). */
  workers?: number;
  /**
   * Directory for the spool dirs (`ctr-remote-convert-<owner>-<rand>`, removed when done; those of dead
   * processes are removed at the start). Default os.tmpdir(); the CLI uses `<root>/tmp`.
   */
  tmpDir?: string;
  /** Warnings for the user (e.g. Docker media types without --oci). */
  onWarning?: (message: string) => void;
  /** Called after each layer is converted. */
  onLayer?: (info: ConvertedLayerInfo) => void;
  signal?: AbortSignal;
}

/**
 * One layer's priorities: the files to put first (`.prefetch.landmark` after them); `undefined` or empty
 * for none (`.no.prefetch.landmark` first); or 'reuse': keep the layer as it is when it already is valid
 * eStargz, as `reuse` does, else convert it without priorities.
 */
export type LayerPriority = readonly string[] | undefined | 'reuse';

/** What happened to one layer. */
export interface ConvertedLayerInfo {
  from: Descriptor;
  to: Descriptor;
  diffId: string;
  reused: boolean;
}

/** The converted image: its root descriptor (manifest or index) and bytes, and every layer's outcome. */
export interface ConvertImageResult {
  descriptor: Descriptor;
  bytes: Buffer;
  layers: ConvertedLayerInfo[];
}

/** Convert the image `src` resolves to and name the result at `dst` (see module comment). */
export async function convertImage(src: ImageSource, dst: ImageSink, opts: ConvertImageOptions): Promise<ConvertImageResult> {
  const pool = opts.format === 'uncompress' ? undefined : new GzipPool({ codec: opts.format === 'zstdchunked' ? 'zstd' : 'gzip', level: opts.level, workers: opts.workers });
  const c = new Converter(src, dst, opts, pool);
  try {
    await removeDeadOwned(c.tmpDir, CONVERT_TEMP_PREFIXES, opts.signal ? { signal: opts.signal } : {});
    const root = await readManifest(src, await src.resolve(opts.signal), opts.signal);
    const top = opts.allPlatforms ? root : await c.selected(root);
    const out = await c.convert(top);
    await dst.tag(out.descriptor, out.bytes, opts.signal);
    return { ...out, layers: c.layers };
  } finally {
    await pool?.close();
  }
}

class Converter {
  readonly layers: ConvertedLayerInfo[] = [];
  readonly tmpDir: string;
  private warnedDocker = false;

  constructor(
    private readonly src: ImageSource,
    private readonly dst: ImageSink,
    private readonly opts: ConvertImageOptions,
    private readonly pool: GzipPool | undefined,
  ) {
    this.tmpDir = opts.tmpDir ?? tmpdir();
  }

  async selected(root: FetchedManifest): Promise<FetchedManifest> {
    return selectImageManifest(this.src, root, this.opts.platform, this.opts.signal);
  }

  async convert(m: FetchedManifest): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    return m.parsed.kind === 'index' ? this.convertIndex(m.descriptor, m.parsed.index) : this.convertManifest(m.descriptor, m.parsed.manifest);
  }

  private async convertIndex(desc: Descriptor, index: Index): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const manifests: Descriptor[] = [];
    for (const child of index.manifests) {
      if (!isManifestType(child.mediaType) && !isIndexType(child.mediaType)) {
        manifests.push(child); // attestations and other artifacts are kept as they are
        await this.copyBlob(child);
        continue;
      }
      const out = await this.convert(await readManifest(this.src, child, this.opts.signal));
      manifests.push({ ...child, mediaType: out.descriptor.mediaType, digest: out.descriptor.digest, size: out.descriptor.size });
    }
    const mediaType = this.opts.oci || !isDockerType(desc.mediaType) ? MediaType.OciIndex : desc.mediaType;
    const json: Index = { schemaVersion: 2, mediaType, manifests, ...(index.annotations ? { annotations: index.annotations } : {}) };
    return this.putJson(mediaType, json);
  }

  private async convertManifest(desc: Descriptor, manifest: Manifest): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const docker = isDockerType(manifest.mediaType ?? desc.mediaType);
    if (docker && !this.opts.oci && !this.warnedDocker) {
      this.warnedDocker = true;
      this.opts.onWarning?.('converting Docker media types without --oci: layers cannot carry the TOC digest annotation; use --oci for lazy pulling');
    }
    const useOci = this.opts.oci || !docker;
    if (manifest.config.size > MAX_CONFIG_SIZE) throw limitExceeded(`image config ${manifest.config.digest} is ${manifest.config.size} bytes, over the ${MAX_CONFIG_SIZE}-byte limit`);
    const configBytes = await readVerified(manifest.config, await this.src.fetch(manifest.config, this.opts.signal));
    const config = JSON.parse(configBytes.toString('utf8')) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) {
      throw invalidArgument(`image ${desc.digest}: config has ${diffIds.length} diff_ids for ${manifest.layers.length} layers`);
    }
    const layers: Descriptor[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      const priority = this.opts.layerPriorities ? this.opts.layerPriorities(desc.digest, i) : this.opts.prioritizedFiles;
      const info = await this.layer(layer, diffIds[i] as string, useOci, priority);
      layers.push(info.to);
      diffIds[i] = info.diffId;
    }
    config.rootfs = { ...config.rootfs, diff_ids: diffIds };
    const configMediaType = useOci ? MediaType.OciConfig : manifest.config.mediaType;
    const newConfig = await this.putJson(configMediaType, config);
    const mediaType = useOci ? MediaType.OciManifest : (manifest.mediaType ?? desc.mediaType);
    const json: Manifest = {
      schemaVersion: 2,
      mediaType,
      config: { ...manifest.config, mediaType: configMediaType, digest: newConfig.descriptor.digest, size: newConfig.descriptor.size },
      layers,
      ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
    };
    return this.putJson(mediaType, json);
  }

  private async layer(from: Descriptor, diffId: string, oci: boolean, priority: LayerPriority): Promise<ConvertedLayerInfo> {
    const { opts, tmpDir } = this;
    if (layerCompression(from.mediaType) === undefined) throw unsupported(`layer ${from.digest}: unsupported media type ${from.mediaType}`);
    const files = priority === 'reuse' || priority === undefined ? [] : priority;
    if ((opts.reuse || priority === 'reuse') && (await canReuseLayer(this.src, from, files, tmpDir, opts.signal))) {
      await this.copyBlob(from);
      return this.record({ from, to: from, diffId, reused: true });
    }
    const out = await convertLayer(this.src, from, { format: opts.format, tmpDir, ...this.layerOptions(), ...(files.length ? { prioritizedFiles: files } : {}) });
    try {
      const to: Descriptor = { mediaType: this.layerMediaType(from, oci), digest: out.digest, size: out.size };
      const annotations = oci ? this.annotations(from, out.build, out.uncompressedSize) : undefined;
      if (annotations && Object.keys(annotations).length) to.annotations = annotations;
      if (!(await this.dst.has(to, opts.signal))) await this.dst.put(to, fileChunks(out.path), opts.signal);
      return this.record({ from, to, diffId: out.diffId, reused: false });
    } finally {
      await out.dispose();
    }
  }

  private layerOptions() {
    const o = this.opts;
    return {
      ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
      ...(o.minChunkSize ? { minChunkSize: o.minChunkSize } : {}),
      ...(this.pool ? { pool: this.pool } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    };
  }

  private layerMediaType(from: Descriptor, oci: boolean): string {
    if (this.opts.format === 'uncompress') return oci ? MediaType.OciLayer : 'application/vnd.docker.image.rootfs.diff.tar';
    if (this.opts.format === 'zstdchunked') return MediaType.OciLayerZstd;
    return oci || !isDockerType(from.mediaType) ? MediaType.OciLayerGzip : MediaType.DockerLayerGzip;
  }

  // Keep the source's unrelated annotations; replace the format ones.
  private annotations(from: Descriptor, build: Pick<BuildEStargzResult, 'tocDigest' | 'zstdChunked' | 'tocStart' | 'blobSize'> | undefined, usize: number) {
    const a: Record<string, string> = { ...(from.annotations ?? {}) };
    for (const k of Object.values(Annotation)) delete a[k];
    if (!build) return a;
    a[Annotation.TocDigest] = build.tocDigest;
    a[Annotation.UncompressedSize] = String(usize);
    a[Annotation.TocTailSize] = tocTailSize(build.blobSize, build.tocStart);
    if (build.zstdChunked) {
      a[Annotation.ZstdChunkedManifestChecksum] = build.zstdChunked.manifestChecksum;
      a[Annotation.ZstdChunkedManifestPosition] = build.zstdChunked.manifestPosition;
    }
    return a;
  }

  private record(info: ConvertedLayerInfo): ConvertedLayerInfo {
    this.layers.push(info);
    this.opts.onLayer?.(info);
    return info;
  }

  private async copyBlob(desc: Descriptor): Promise<void> {
    if (await this.dst.has(desc, this.opts.signal)) return;
    await this.dst.put(desc, await this.src.fetch(desc, this.opts.signal), this.opts.signal);
  }

  private async putJson(mediaType: string, json: unknown): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
    const bytes = Buffer.from(JSON.stringify(json));
    const descriptor: Descriptor = { mediaType, digest: sha256Digest(bytes), size: bytes.length };
    try {
      if (!(await this.dst.has(descriptor, this.opts.signal))) await this.dst.put(descriptor, single(bytes), this.opts.signal);
    } catch (e) {
      throw withContext({ op: `write ${mediaType}`, subject: descriptor.digest }, e);
    }
    return { descriptor, bytes };
  }
}

async function* single(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
