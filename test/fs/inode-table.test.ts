import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TocIndex } from '../../src/estargz/toc-index.js';
import { TocDir, TocFile } from '../../src/estargz/toc-node.js';
import type { TOCEntry } from '../../src/estargz/toc-types.js';
import { buildInodeTable, type InodeTableOptions } from '../../src/fs/inode-table.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from '../../src/fs/inode.js';

/** The FUSE view of a TOC's index (payload members end at 1 MiB: these TOCs need no blob). */
const tableOf = (entries: TOCEntry[], options?: InodeTableOptions) => buildInodeTable(TocIndex.build(entries, 1 << 20), options);

const T = '2024-01-02T03:04:05Z';
const T_SEC = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;

const entries: TOCEntry[] = [
  { name: 'bin/', type: 'dir', mode: 0o755, modtime: T },
  { name: 'bin/sh', type: 'reg', size: 5, mode: 0o4755, uid: 10, gid: 20, modtime: T, digest: 'sha256:x', offset: 100, chunkDigest: 'sha256:x' },
  { name: 'bin/ash', type: 'hardlink', linkName: 'bin/sh' },
  { name: 'bin/dash', type: 'hardlink', linkName: './bin/ash' },
  { name: 'usr/lib/deep/file', type: 'reg', size: 0, mode: 0o644 },
  { name: 'usr/link', type: 'symlink', linkName: '../bin/sh', mode: 0o777 },
  { name: 'dev/null', type: 'char', devMajor: 1, devMinor: 3, mode: 0o666 },
  { name: 'dev/sda', type: 'block', devMajor: 8, devMinor: 300, mode: 0o660 },
  { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  { name: 'etc', type: 'dir', mode: 0o700, uid: 3, xattrs: { 'user.k': Buffer.from('v\u0000w').toString('base64') } },
  { name: 'etc/.wh..wh..opq', type: 'reg', size: 0 },
  { name: 'etc/.wh.passwd', type: 'reg', size: 0, modtime: T },
  { name: 'etc/.wh.shadow', type: 'reg', size: 0 },
  { name: 'etc/shadow', type: 'reg', size: 3, mode: 0o600 },
  { name: '.prefetch.landmark', type: 'reg', size: 1 },
  { name: 'etc/.no.prefetch.landmark', type: 'reg', size: 1 },
  { name: './', type: 'dir', mode: 0o751, modtime: T },
];

describe('buildInodeTable', () => {
  const table = tableOf(entries);
  const at = (p: string) => {
    const n = table.lookupPath(p);
    assert.ok(n, `missing ${p}`);
    return n;
  };
  const attr = (p: string) => table.attr(at(p));
  const names = (p: string) => {
    const dir = at(p);
    assert.ok(dir instanceof TocDir, `${p} is a directory`);
    return table.list(dir).map(([name]) => name);
  };

  test('root takes the attributes of the "./" entry and hides root landmarks only', () => {
    assert.equal(table.ino(table.root), 1);
    assert.equal(table.attr(table.root).mode, S_IFDIR | 0o751);
    assert.equal(table.attr(table.root).mtime.sec, T_SEC);
    assert.equal(table.lookupPath('.prefetch.landmark'), undefined);
    assert.equal(table.get(table.ino(table.index.lookup('.prefetch.landmark')!)), undefined, 'not served by number either');
    assert.equal(table.kind(at('etc/.no.prefetch.landmark')), 'reg');
  });

  test('a hardlink named like a landmark is hidden at the root; its target stays visible under its own name', () => {
    const t = tableOf([{ name: 'f', type: 'reg', size: 0 }, { name: '.prefetch.landmark', type: 'hardlink', linkName: 'f' }]);
    assert.equal(t.lookupPath('.prefetch.landmark'), undefined);
    assert.deepEqual(t.list(t.root).map(([name]) => name), ['f']);
    assert.equal(t.get(t.ino(t.lookupPath('f')!)), t.lookupPath('f'));
  });

  test('regular files: mode with S_IFREG and setuid, owner, mtime, size; the node is what the chunk source reads', () => {
    const sh = attr('bin/sh');
    assert.equal(sh.mode, S_IFREG | 0o4755);
    assert.deepEqual([sh.uid, sh.gid, sh.size, sh.mtime.sec], [10, 20, 5, T_SEC]);
    assert.ok(at('bin/sh') instanceof TocFile);
    assert.equal(at('bin/sh').path, 'bin/sh');
  });

  test('hardlinks share one inode and count links, chains included', () => {
    const sh = at('bin/sh');
    assert.equal(at('bin/ash'), sh);
    assert.equal(at('bin/dash'), sh);
    assert.equal(table.attr(sh).nlink, 3);
    assert.equal(sh.path, 'bin/sh');
  });

  test('missing parents are synthesized 0755 root-owned; dir nlink is 2 + subdirs', () => {
    const usr = attr('usr');
    assert.equal(usr.mode, S_IFDIR | 0o755);
    assert.deepEqual([usr.uid, usr.gid, usr.mtime.sec], [0, 0, 0]);
    assert.equal(usr.nlink, 3);
    assert.equal(attr('usr/lib').nlink, 3);
    assert.equal(attr('usr/lib/deep').nlink, 2);
    assert.equal(table.attr(table.root).nlink, 2 + 5); // bin usr dev run etc
  });

  test('symlinks, devices and fifos', () => {
    const link = attr('usr/link');
    assert.equal(link.mode, S_IFLNK | 0o777);
    assert.equal(link.size, '../bin/sh'.length);
    assert.equal(at('usr/link').linkName, '../bin/sh');
    assert.deepEqual(attr('dev/null').rdev, { major: 1, minor: 3 });
    assert.equal(attr('dev/null').mode, S_IFCHR | 0o666);
    assert.equal(attr('dev/sda').mode, S_IFBLK | 0o660);
    assert.deepEqual(attr('dev/sda').rdev, { major: 8, minor: 300 });
    assert.equal(attr('run/fifo').mode, S_IFIFO | 0o600);
  });

  test('xattrs decoded; .wh..wh..opq sets trusted.overlay.opaque=y and stays hidden', () => {
    const etc = table.xattrs(at('etc'));
    assert.deepEqual(etc.get('user.k'), Buffer.from('v\u0000w'));
    assert.deepEqual(etc.get('trusted.overlay.opaque'), Buffer.from('y'));
    assert.deepEqual([...etc.keys()], ['user.k', 'trusted.overlay.opaque']);
    assert.equal(names('etc').includes('.wh..wh..opq'), false);
    assert.equal(attr('etc').mode, S_IFDIR | 0o700);
  });

  test('.wh.NAME is a 0/0 char device NAME unless the layer has a real NAME', () => {
    const wh = attr('etc/passwd');
    assert.equal(wh.mode, S_IFCHR);
    assert.deepEqual(wh.rdev, { major: 0, minor: 0 });
    assert.deepEqual([wh.uid, wh.gid, wh.mtime.sec, wh.nlink], [0, 0, T_SEC, 1]);
    assert.equal(table.kind(at('etc/shadow')), 'reg');
    assert.deepEqual(names('etc').sort(), ['.no.prefetch.landmark', 'passwd', 'shadow']);
  });

  test('hasXattrs: false for a layer without any; true for a layer xattr or an opaque directory; overlayfs xattrs of the layer do not count', () => {
    const plain: TOCEntry[] = [{ name: 'bin/sh', type: 'reg', size: 0, mode: 0o755 }, { name: 'etc/', type: 'dir', mode: 0o755 }];
    assert.equal(tableOf(plain).hasXattrs(), false);
    assert.equal(tableOf([...plain, { name: 'etc/x', type: 'reg', size: 0, xattrs: { 'user.k': 'dg==' } }]).hasXattrs(), true);
    assert.equal(tableOf([...plain, { name: 'etc/.wh..wh..opq', type: 'reg', size: 0 }]).hasXattrs(), true);
    assert.equal(tableOf([...plain, { name: 'etc/y', type: 'reg', size: 0, xattrs: { 'trusted.overlay.opaque': 'eQ==' } }]).hasXattrs(), false);
    assert.equal(table.hasXattrs(), true);
  });

  test('opaque xattr names are configurable', () => {
    const t = tableOf(entries, { opaqueXattrs: ['trusted.overlay.opaque', 'user.overlay.opaque'] });
    assert.deepEqual(t.xattrs(t.lookupPath('etc')!).get('user.overlay.opaque'), Buffer.from('y'));
  });

  test('inode numbers are stable for the same TOC and unique per inode', () => {
    const again = tableOf(entries);
    for (const n of table.inodes()) assert.equal(again.get(table.ino(n))?.path, n.path);
    const inos = [...table.inodes()].map((n) => table.ino(n));
    assert.equal(new Set(inos).size, inos.length);
    assert.equal(inos.length, table.size);
    assert.equal(table.get(table.ino(at('bin/ash'))), at('bin/sh'));
  });

  test('a later entry of the same name replaces the earlier one; a dir keeps its children', () => {
    const t = tableOf([
      { name: 'a', type: 'reg', size: 1 },
      { name: 'a', type: 'reg', size: 2 },
      { name: 'd/x', type: 'reg', size: 0 },
      { name: 'd', type: 'dir', mode: 0o700 },
    ]);
    assert.equal(t.attr(t.lookupPath('a')!).size, 2);
    assert.equal(t.attr(t.lookupPath('d')!).mode, S_IFDIR | 0o700);
    assert.ok(t.lookupPath('d/x'));
    assert.equal(t.size, 4);
  });

  test('hostile TOCs are rejected with InvalidArgument naming the path', () => {
    assert.throws(() => tableOf([{ name: 'x', type: 'hardlink', linkName: 'nope' }]), /"x" points to a missing entry "nope"/);
    assert.throws(() => tableOf([{ name: 'd', type: 'dir' }, { name: 'x', type: 'hardlink', linkName: 'd' }]), /directory/);
    assert.throws(() => tableOf([{ name: 'f', type: 'reg' }, { name: 'f/g', type: 'reg' }]), /"f" is a reg, not a directory/);
    assert.throws(() => tableOf([{ name: 'f', type: 'socket' as never }]), /unsupported type/);
  });

  test('chunk entries and ".." in names are handled', () => {
    const t = tableOf([
      { name: 'a/../b', type: 'reg', size: 10 },
      { name: 'a/../b', type: 'chunk', chunkOffset: 5, chunkSize: 5 },
    ]);
    assert.equal(t.attr(t.lookupPath('b')!).size, 10);
    assert.equal(t.lookupPath('a'), undefined);
  });
});
