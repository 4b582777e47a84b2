// optimize's local layer mounts: each staged eStargz blob (a file of the staging layout, no registry) is
// served through the same FUSE core as lazy pulls (TOC filesystem over a LazyLayer over a RangeReader of
// the blob file), with the access recorder on. The result is the overlayfs lowerdirs, topmost first.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { withContext } from '../../errors.js';
import { openEStargz, type EStargzReader } from '../../estargz/reader.js';
import { buildInodeTable } from '../../fs/inode-table.js';
import { TocFileSystem } from '../../fs/toc-filesystem.js';
import { mountFuse, type FuseMount } from '../../fuse/mount.js';
import { unmountSync } from '../../fuse/unmount.js';
import { FileRangeReader } from '../../content/file-range-reader.js';
import { blobSourceFromRangeReader } from '../../content/blob-source.js';
import { ChunkCache } from '../../layer/chunk-cache.js';
import { LazyLayer } from '../../layer/lazy-layer.js';
import type { LayerDirs } from '../../runtime/container.js';

/** One staged layer: its blob file and TOC digest. */
export interface StagedLayer {
  digest: string;
  blobPath: string;
  tocDigest: string;
}

/** Options of mountStagedLayers. */
export interface StagedMountOptions {
  /** Mount points go to `<dir>/<index>`. */
  dir: string;
  /** Chunk cache directory (throwaway). */
  cacheDir: string;
  /** First open of each file, with the index of the layer that served it (0 = base). */
  onAccess: (path: string, layerIndex: number) => void;
}

/** The mounted layers, plus a way to read image files without going through the recorder. */
export interface StagedMounts extends LayerDirs {
  release: () => Promise<void>;
  /** A regular file of the merged image (topmost layer, whiteouts honoured), or undefined. */
  readImageFile(path: string): Promise<string | undefined>;
}

/** Mount `layers` (base first) read-only with the recorder on; `release` unmounts and closes them. */
export async function mountStagedLayers(layers: readonly StagedLayer[], o: StagedMountOptions): Promise<StagedMounts> {
  const fuse: FuseMount[] = [];
  const closers: (() => Promise<void>)[] = [];
  const onExit = () => fuse.forEach((m) => unmountSync(m.dir));
  process.on('exit', onExit);
  const release = async () => {
    await Promise.allSettled(fuse.map((m) => m.unmount()));
    for (const close of closers) await close().catch(() => undefined);
    process.off('exit', onExit);
  };
  try {
    const cache = await ChunkCache.open({ dir: o.cacheDir, memoryMaxBytes: 0 });
    const dirs: string[] = [];
    const readers: EStargzReader[] = [];
    for (const [index, layer] of layers.entries()) {
      const dir = join(o.dir, String(index));
      await mkdir(dir, { recursive: true });
      const reader = await FileRangeReader.open(layer.blobPath);
      closers.push(() => reader.close());
      const toc = await openEStargz(reader, { tocDigest: layer.tocDigest }).catch((e: unknown) => {
        throw withContext({ op: 'staged layer', subject: `${index} (${layer.digest})` }, e);
      });
      readers.push(toc);
      const lazy = LazyLayer.open({
        layerDigest: layer.digest,
        blob: blobSourceFromRangeReader(reader),
        index: toc.index,
        cache,
        prefetch: false,
        backgroundFetch: false,
      });
      closers.unshift(() => lazy.close());
      const fs = new TocFileSystem(buildInodeTable(toc.index), lazy, { onAccess: (p) => o.onAccess(p, index) });
      fuse.push(await mountFuse(dir, fs, { fsName: `ctr-remote-optimize:${layer.digest.slice(7, 19)}`, unmountOnExit: false }));
      dirs.push(dir);
    }
    return { lowerdirs: dirs.reverse(), release, readImageFile: (p) => readMerged(readers, p) };
  } catch (e) {
    await release();
    throw e;
  }
}

// The user's /etc/passwd and /etc/group are read here, not through the mounts: the recorder reports an
// inode once, so a read before the workload starts would hide the workload's own read of the file.
async function readMerged(readers: readonly EStargzReader[], path: string): Promise<string | undefined> {
  const name = path.replace(/^\/+/, '');
  for (const r of [...readers].reverse()) {
    const e = r.lookup(name);
    if (e) return e.type === 'reg' ? (await r.readFile(e, 0, 16 << 20)).toString('utf8') : undefined;
    if (r.index.hides(name)) return undefined;
  }
  return undefined;
}
