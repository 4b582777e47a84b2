// Convert one layer blob: stream it from the source, decompress, spool the uncompressed tar to a temp file
// while indexing its entries, then write the eStargz / zstd:chunked / plain-tar blob to a second temp file.
// Memory stays bounded by the chunk size and the pool's queue, whatever the layer size.
import { createHash } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withContext } from '../../errors.js';
import type { SourceEntry } from '../../estargz/entry-order.js';
import { ownedName } from '../../host/owned-names.js';
import type { GzipPool } from '../../estargz/gzip-pool.js';
import { openEStargz } from '../../estargz/reader.js';
import { buildEStargz, type BuildEStargzResult } from '../../estargz/writer.js';
import { FileRangeReader } from '../../content/file-range-reader.js';
import type { Descriptor } from '../../oci/types.js';
import { readTar } from '../../tar/reader.js';
import { decompressLayer } from '../../oci/layer-decompress.js';
import type { ImageSource } from '../../content/endpoint.js';
import { consumeVerified, verifiedStream } from '../../content/verified-stream.js';

/** Output of a layer conversion: a temp file holding the new blob and what to record about it. */
export interface ConvertedLayer {
  /** The new blob's temp file (removed by `dispose`). */
  path: string;
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
  /** The eStargz build result (absent for --uncompress). */
  build?: BuildEStargzResult;
  dispose(): Promise<void>;
}

/** Options of convertLayer. */
export interface ConvertLayerOptions {
  format: 'estargz' | 'zstdchunked' | 'uncompress';
  chunkSize?: number;
  minChunkSize?: number;
  prioritizedFiles?: readonly string[];
  /** Pool to compress on (its codec must match the format). */
  pool?: GzipPool;
  /** Where temp dirs go (created when missing). */
  tmpDir: string;
  signal?: AbortSignal;
}

/** Name prefixes of convert's temp dirs (`<prefix><owner>-<rand>`, see host/owned-names.ts). */
export const CONVERT_TEMP_PREFIXES = ['ctr-remote-convert-', 'ctr-remote-reuse-'] as const;

/** A fresh 0700 temp dir owned by this process under `tmpDir`. */
async function makeTempDir(tmpDir: string, prefix: (typeof CONVERT_TEMP_PREFIXES)[number]): Promise<string> {
  await mkdir(tmpDir, { recursive: true, mode: 0o700 });
  const dir = join(tmpDir, ownedName(prefix));
  await mkdir(dir, { mode: 0o700 });
  return dir;
}

/** Convert the layer `desc` of `src` (see module comment). */
export async function convertLayer(src: ImageSource, desc: Descriptor, opts: ConvertLayerOptions): Promise<ConvertedLayer> {
  const dir = await makeTempDir(opts.tmpDir, 'ctr-remote-convert-');
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const spool = join(dir, 'layer.tar');
    const { entries, digest: tarDigest, size: tarSize } = await spoolTar(src, desc, spool, opts.signal);
    if (opts.format === 'uncompress') {
      return { path: spool, digest: tarDigest, size: tarSize, diffId: tarDigest, uncompressedSize: tarSize, dispose };
    }
    const out = join(dir, 'layer.out');
    const build = await writeBlob(entries, spool, out, opts);
    return { path: out, digest: build.blobDigest, size: build.blobSize, diffId: build.diffId, uncompressedSize: build.uncompressedSize, build, dispose };
  } catch (e) {
    await dispose();
    throw withContext({ op: 'convert layer', subject: desc.digest }, e);
  }
}

// Stream, verify and decompress the blob into `spool`, recording each entry's header and payload offset.
// A corrupt blob is reported as such even when the decompressor or the tar reader trips over it first.
async function spoolTar(src: ImageSource, desc: Descriptor, spool: string, signal?: AbortSignal) {
  const fh = await open(spool, 'w');
  const hash = createHash('sha256');
  let size = 0;
  const entries: SourceEntry[] = [];
  try {
    await consumeVerified(desc, await src.fetch(desc, signal), async (blob) => {
      const tar = decompressLayer(desc.mediaType, blob, desc.digest);
      async function* tee(): AsyncGenerator<Buffer> {
        for await (const chunk of tar) {
          hash.update(chunk);
          size += chunk.length;
          await fh.write(chunk);
          yield chunk;
        }
      }
      for await (const e of readTar(tee(), { signal })) entries.push({ header: e.header, dataOffset: e.dataOffset });
    }, signal);
  } finally {
    await fh.close();
  }
  return { entries, digest: `sha256:${hash.digest('hex')}`, size };
}

async function writeBlob(entries: SourceEntry[], spool: string, out: string, opts: ConvertLayerOptions): Promise<BuildEStargzResult> {
  const source = await FileRangeReader.open(spool);
  const fh = await open(out, 'w');
  try {
    return await buildEStargz(entries, source, async (b) => void (await fh.write(b)), {
      compression: opts.format === 'zstdchunked' ? 'zstd' : 'gzip',
      ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
      ...(opts.minChunkSize !== undefined ? { minChunkSize: opts.minChunkSize } : {}),
      ...(opts.prioritizedFiles ? { prioritizedFiles: opts.prioritizedFiles } : {}),
      ...(opts.pool ? { pool: opts.pool } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } finally {
    await fh.close();
    await source.close();
  }
}

/**
 * `--reuse` check: the layer is kept as it is when it is a gzip eStargz whose TOC verifies against its
 * toc.digest annotation and which contains none of the prioritized paths. Returns false otherwise.
 */
export async function canReuseLayer(src: ImageSource, desc: Descriptor, prioritized: readonly string[], tmpDir: string, signal?: AbortSignal): Promise<boolean> {
  const tocDigest = desc.annotations?.['containerd.io/snapshot/stargz/toc.digest'];
  if (!tocDigest || !desc.mediaType.endsWith('gzip')) return false;
  const dir = await makeTempDir(tmpDir, 'ctr-remote-reuse-');
  try {
    const path = join(dir, 'blob');
    const fh = await open(path, 'w');
    try {
      for await (const chunk of verifiedStream(desc, await src.fetch(desc, signal))) await fh.write(chunk);
    } finally {
      await fh.close();
    }
    const r = await FileRangeReader.open(path);
    try {
      const rd = await openEStargz(r, { tocDigest, signal });
      return !prioritized.some((p) => rd.lookup(p) !== undefined);
    } catch {
      return false;
    } finally {
      await r.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
