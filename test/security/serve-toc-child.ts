// Child process for the memory tests: what serving a (hostile) blob costs, measured as this process's peak
// RSS so that the test runner's own memory does not count. argv: BLOB-FILE MODE CACHE-DIR
//   open:  open the blob, make its lazy layer and inode table (what a mount does before serving)
//   reads: also read every regular file at once through the TOC filesystem (what a parallel reader does)
// Prints one JSON line: { entries, maxRssMiB, errnos: { <errno>: count } }.
import { readFile } from 'node:fs/promises';
import { openEStargz } from '../../src/estargz/reader.js';
import { buildInodeTable } from '../../src/fs/inode-table.js';
import { TocFileSystem } from '../../src/fs/toc-filesystem.js';
import { FuseErrno } from '../../src/fuse/errno.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { blobSourceFromRangeReader } from '../../src/content/blob-source.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer } from '../../src/layer/lazy-layer.js';

const [file, mode, cacheDir] = process.argv.slice(2);
if (!file || !mode || !cacheDir) throw new Error('usage: serve-toc-child.ts BLOB open|reads CACHE-DIR');
const blob = new BufferRangeReader(await readFile(file));
const index = (await openEStargz(blob)).index; // as a mount does: the reader is not kept, its index is
const cache = await ChunkCache.open({ dir: cacheDir, maxBytes: 1 << 30 });
const layer = LazyLayer.open({
  layerDigest: `sha256:${'0'.repeat(64)}`, blob: blobSourceFromRangeReader(blob), index, cache, backgroundFetch: false, prefetch: false,
});
const table = buildInodeTable(index);
const errnos: Record<string, number> = {};
if (mode === 'reads') {
  const fs = new TocFileSystem(table, layer);
  const ctx = { uid: 0, gid: 0, pid: 1, signal: new AbortController().signal };
  const files = [...table.inodes()].filter((n) => n.type === 'reg');
  await Promise.all(files.map(async (n) => {
    const got = await fs.read(table.ino(n), 0, 0, 1 << 20, ctx).then(() => 'ok', (e: unknown) => (e instanceof FuseErrno ? `errno ${e.errno}` : String(e)));
    errnos[got] = (errnos[got] ?? 0) + 1;
  }));
}
await layer.close();
process.stdout.write(`${JSON.stringify({ entries: table.size, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), errnos })}\n`);
