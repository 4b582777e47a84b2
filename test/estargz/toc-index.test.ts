// The one index of a TOC (src/estargz/toc-index.ts): the tree by the one rule of names (what the verifying
// reader looks up is what the mount shows), whiteouts recorded rather than listed, chunks per file with their
// members in blob order, the prefetch landmark.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isCtrError } from '../../src/errors.js';
import { TocIndex } from '../../src/estargz/toc-index.js';
import { TocDir, TocFile } from '../../src/estargz/toc-node.js';
import type { TOCEntry } from '../../src/estargz/toc-types.js';
import { buildInodeTable } from '../../src/fs/inode-table.js';

const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('TocIndex', () => {
  test('lookups follow the one rule: an entry under a symlinked parent is where the mount shows it', () => {
    const index = TocIndex.build([
      { name: 'usr/lib/', type: 'dir', mode: 0o755 },
      { name: 'lib', type: 'symlink', linkName: 'usr/lib' },
      { name: 'lib/libx.so', type: 'reg', size: 0 },
      { name: 'rootlink', type: 'symlink', linkName: '/' },
      { name: 'rootlink/etc/hello', type: 'reg', size: 0 },
    ], 100);
    assert.equal(index.lookup('usr/lib/libx.so')?.type, 'reg');
    assert.equal(index.lookup('lib/libx.so'), undefined, 'lookups follow no symlinks');
    assert.equal(index.lookup('etc/hello')?.path, 'etc/hello');
    assert.deepEqual([...index.children('usr/lib').keys()], ['libx.so']);
    const table = buildInodeTable(index);
    assert.equal(table.lookupPath('usr/lib/libx.so'), index.lookup('usr/lib/libx.so'), 'the FUSE view serves the same node');
  });

  test('whiteouts and opaque markers are recorded on their directory, not listed; hides() answers for lower layers', () => {
    const index = TocIndex.build([
      { name: 'etc/', type: 'dir' },
      { name: 'etc/.wh.passwd', type: 'reg', size: 0 },
      { name: 'etc/.wh.group', type: 'reg', size: 0 },
      { name: 'etc/group', type: 'reg', size: 0 },
      { name: 'var/.wh..wh..opq', type: 'reg', size: 0 },
      { name: 'var/x', type: 'reg', size: 0 },
    ], 100);
    assert.deepEqual([...index.children('etc').keys()], ['group']);
    assert.equal(index.lookup('etc/.wh.passwd'), undefined);
    assert.equal(index.hides('etc/passwd'), true);
    assert.equal(index.hides('etc/shadow'), false);
    assert.equal(index.hides('var/anything'), true, 'opaque directory');
    const etc = index.lookup('etc');
    assert.ok(etc instanceof TocDir);
    assert.deepEqual([...(etc.whiteouts?.keys() ?? [])], ['passwd'], 'a whiteout of a name the layer has is dropped');
    assert.equal(index.count, 1 + 2 + 1 + 1 + 1, 'root, etc, var, group, x, and the passwd whiteout');
  });

  test('hardlinks are their target under a second name; a target must come earlier and not be a directory', () => {
    const index = TocIndex.build([
      { name: 'a', type: 'reg', size: 3, digest: D(1), chunkDigest: D(1) },
      { name: 'd/b', type: 'hardlink', linkName: 'a' },
      { name: 'c', type: 'hardlink', linkName: '/d/b' },
    ], 100);
    const a = index.lookup('a');
    assert.ok(a instanceof TocFile);
    assert.equal(index.lookup('d/b'), a);
    assert.equal(index.lookup('c'), a);
    assert.deepEqual([a.numLink, a.path, index.lookup('d')?.numLink, index.root.numLink], [3, 'a', 2, 3]);
    for (const bad of [
      [{ name: 'x', type: 'hardlink', linkName: 'later' }, { name: 'later', type: 'reg', size: 0 }],
      [{ name: 'd', type: 'dir' }, { name: 'x', type: 'hardlink', linkName: 'd' }],
    ] as TOCEntry[][]) {
      assert.throws(() => TocIndex.build(bad, 100), (e: unknown) => isCtrError(e, 'InvalidArgument') && /TOC hardlink "x" points to/.test((e as Error).message));
    }
  });

  test('chunks per file in file order, members in blob order with their ends, the chunk of an offset', () => {
    const index = TocIndex.build([
      { name: 'big', type: 'reg', size: 10, offset: 0, chunkSize: 4, digest: D(9), chunkDigest: D(1) },
      { name: 'big', type: 'chunk', offset: 50, chunkOffset: 8, chunkDigest: D(3) },
      { name: 'big', type: 'chunk', offset: 20, chunkOffset: 4, chunkSize: 4, chunkDigest: D(2) },
      { name: 'small', type: 'reg', size: 2, offset: 80, digest: D(4) },
      { name: 'empty', type: 'reg', size: 0 },
    ], 90);
    const big = index.lookup('big') as TocFile;
    assert.deepEqual(big.chunks.map((c) => [c.fileOffset, c.size, c.member.offset, c.member.end, c.digest]), [
      [0, 4, 0, 20, D(1)], [4, 4, 20, 50, D(2)], [8, 2, 50, 80, D(3)],
    ]);
    assert.equal(big.digest, D(9));
    const small = index.lookup('small') as TocFile;
    assert.equal(small.chunks[0]?.digest, D(4), "a one-chunk file's digest verifies its chunk");
    assert.equal(small.chunks[0]?.member.end, 90, 'the last member ends where the TOC starts');
    assert.deepEqual((index.lookup('empty') as TocFile).chunks, []);
    assert.deepEqual(index.members.map((m) => [m.offset, m.seq]), [[0, 0], [20, 1], [50, 2], [80, 3]]);
    assert.equal(index.chunkAt(big, 7)?.fileOffset, 4);
    assert.equal(index.chunkAt(big, 10), undefined);
    assert.deepEqual(index.chunksIn(big, 3, 2).map((c) => c.fileOffset), [0, 4]);
    assert.deepEqual(index.membersAfter(index.members[0]!, 60).map((m) => m.offset), [20, 50]);
    assert.deepEqual(index.membersBelow(50).map((m) => m.offset), [0, 20]);
  });

  test('the prefetch region ends at .prefetch.landmark; .no.prefetch.landmark means none', () => {
    const landmark = (name: string): TOCEntry => ({ name, type: 'reg', size: 1, offset: 40, chunkDigest: D(5) });
    assert.equal(TocIndex.build([landmark('.prefetch.landmark')], 100).prefetchEnd, 40);
    assert.equal(TocIndex.build([landmark('./.prefetch.landmark'), landmark('.no.prefetch.landmark')], 100).prefetchEnd, undefined);
    assert.equal(TocIndex.build([{ name: 'f', type: 'reg', size: 0 }], 100).prefetchEnd, undefined);
  });

  test('owner names missing from an entry are those an earlier entry gave its id (as the reference reader fills them)', () => {
    const index = TocIndex.build([
      { name: 'a', type: 'reg', size: 0, uid: 7, userName: 'seven', gid: 8, groupName: 'eight' },
      { name: 'b', type: 'reg', size: 0, uid: 7, gid: 8 },
      { name: 'c', type: 'reg', size: 0, uid: 9 },
    ], 100);
    assert.deepEqual([index.lookup('b')?.extra?.userName, index.lookup('b')?.extra?.groupName], ['seven', 'eight']);
    assert.equal(index.lookup('b')?.extra, index.lookup('a')?.extra, 'nodes with the same owner names share one object');
    assert.equal(index.lookup('c')?.extra, undefined);
  });
});
