// A single eStargz layer (converted by the reference library) mounted over real FUSE with our TOC
// filesystem and lazy layer, compared path by path with the same tar unpacked by GNU tar.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildInodeTable } from '../../src/fs/inode-table.js';
import { TocFileSystem } from '../../src/fs/toc-filesystem.js';
import { mountFuse, type FuseMount } from '../../src/fuse/mount.js';
import { blobSourceFromRangeReader } from '../../src/content/blob-source.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer } from '../../src/layer/lazy-layer.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { buildReferenceBlob, type ReferenceBlob } from '../layer/reference-estargz.js';
import { makeFixtureTree, noise } from './fixture-tree.js';
import { asLayerMountShowsIt, diffTrees, snapshotTree } from './tree-snapshot.js';

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root: FUSE mount, mknod and chown in the fixture tree' : false;

describe('layer mounted over FUSE vs GNU tar', { skip }, () => {
  let work: string;
  let ref: ReferenceBlob;
  let layer: LazyLayer;
  let mount: FuseMount;
  const accessed: string[] = [];
  let mnt: string;
  let unpacked: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-layermount-'));
    const tree = join(work, 'tree');
    await makeFixtureTree(tree);
    ref = await buildReferenceBlob(tree, { chunkSize: 512 << 10 });
    unpacked = join(work, 'unpacked');
    await mkdir(unpacked);
    await run('tar', ['--sort=name', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', tree, '-cf', join(work, 'l.tar'), '.']);
    await run('tar', ['--numeric-owner', '--same-owner', '-p', '--xattrs', '--xattrs-include=*', '-C', unpacked, '-xf', join(work, 'l.tar')]);
    const cache = await ChunkCache.open({ dir: join(work, 'cache'), maxBytes: 1 << 30 });
    layer = LazyLayer.open({
      layerDigest: 'sha256:test',
      blob: blobSourceFromRangeReader(new BufferRangeReader(ref.blob)),
      index: ref.reader.index,
      cache,
      backgroundFetch: false,
    });
    const table = buildInodeTable(ref.reader.index);
    mnt = join(work, 'mnt');
    await mkdir(mnt);
    mount = await mountFuse(mnt, new TocFileSystem(table, layer, { onAccess: (p) => accessed.push(p) }));
  });

  after(async () => {
    await mount?.unmount();
    await layer?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('every path has the same type, mode, owner, size, mtime, link, rdev, xattrs, hardlinks and content', async () => {
    const want = asLayerMountShowsIt(await snapshotTree(unpacked));
    const got = await snapshotTree(mnt);
    assert.ok(want.size > 25, `fixture too small: ${want.size}`);
    assert.deepEqual(diffTrees(want, got), []);
    assert.deepEqual(got.get('bin/tool')?.hardlinks, ['bin/tool', 'bin/tool-hard', 'usr/tool-hard2']);
    assert.equal(got.get('etc/passwd')?.type, 'char');
    assert.equal(got.get('var/opaque')?.xattrs['trusted.overlay.opaque'], '79');
  });

  test('the access recorder saw the files the walk opened, each once', () => {
    assert.ok(accessed.includes('bin/big'));
    assert.equal(accessed.filter((p) => p === 'bin/tool').length, 1);
    assert.ok(!accessed.includes('bin/tool-hard'));
    assert.ok(!accessed.includes('etc'));
  });

  test('random reads across chunk boundaries return the right bytes', async () => {
    const big = noise(1_500_000, 1);
    const fh = await openFile(join(mnt, 'bin/big'), 'r');
    try {
      for (const [off, len] of [[0, 10], [524_280, 20], [1_048_000, 200_000], [1_499_990, 100]] as const) {
        const buf = Buffer.alloc(len);
        const { bytesRead } = await fh.read(buf, 0, len, off);
        assert.deepEqual(buf.subarray(0, bytesRead), big.subarray(off, off + len));
      }
    } finally {
      await fh.close();
    }
    assert.deepEqual(await readFile(join(mnt, 'etc/hosts'), 'utf8'), '127.0.0.1 localhost\n');
  });

  test('statfs and writes: read-only filesystem', async () => {
    await assert.rejects(readFile(join(mnt, 'nope')), { code: 'ENOENT' });
    await assert.rejects(openFile(join(mnt, 'etc/hosts'), 'w'), { code: 'EROFS' });
    const { stdout } = await run('stat', ['-f', '-c', '%T %c', mnt]);
    assert.match(stdout, /fuse/);
  });
});
