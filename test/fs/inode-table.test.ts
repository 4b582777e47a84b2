import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TOCEntry } from '../../src/estargz/toc-types.js';
import { buildInodeTable } from '../../src/fs/inode-table.js';
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from '../../src/fs/inode.js';

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
  const table = buildInodeTable(entries);
  const at = (p: string) => {
    const n = table.lookupPath(p);
    assert.ok(n, `missing ${p}`);
    return n;
  };

  test('root takes the attributes of the "./" entry and hides root landmarks only', () => {
    assert.equal(table.root.ino, 1);
    assert.equal(table.root.mode, S_IFDIR | 0o751);
    assert.equal(table.root.mtime, T_SEC);
    assert.equal(table.lookupPath('.prefetch.landmark'), undefined);
    assert.equal(at('etc/.no.prefetch.landmark').kind, 'reg');
  });

  test('regular files: mode with S_IFREG and setuid, owner, mtime, size, payload entry', () => {
    const sh = at('bin/sh');
    assert.equal(sh.mode, S_IFREG | 0o4755);
    assert.deepEqual([sh.uid, sh.gid, sh.size, sh.mtime], [10, 20, 5, T_SEC]);
    assert.equal(sh.entry?.name, 'bin/sh');
  });

  test('hardlinks share one inode and count links, chains included', () => {
    const sh = at('bin/sh');
    assert.equal(at('bin/ash'), sh);
    assert.equal(at('bin/dash'), sh);
    assert.equal(sh.nlink, 3);
    assert.equal(sh.path, 'bin/sh');
  });

  test('missing parents are synthesized 0755 root-owned; dir nlink is 2 + subdirs', () => {
    const usr = at('usr');
    assert.equal(usr.mode, S_IFDIR | 0o755);
    assert.deepEqual([usr.uid, usr.gid, usr.mtime], [0, 0, 0]);
    assert.equal(usr.nlink, 3);
    assert.equal(at('usr/lib').nlink, 3);
    assert.equal(at('usr/lib/deep').nlink, 2);
    assert.equal(table.root.nlink, 2 + 5); // bin usr dev run etc
  });

  test('symlinks, devices and fifos', () => {
    const link = at('usr/link');
    assert.equal(link.mode, S_IFLNK | 0o777);
    assert.equal(link.size, '../bin/sh'.length);
    assert.equal(link.linkName, '../bin/sh');
    assert.deepEqual(at('dev/null').rdev, { major: 1, minor: 3 });
    assert.equal(at('dev/null').mode, S_IFCHR | 0o666);
    assert.equal(at('dev/sda').mode, S_IFBLK | 0o660);
    assert.deepEqual(at('dev/sda').rdev, { major: 8, minor: 300 });
    assert.equal(at('run/fifo').mode, S_IFIFO | 0o600);
  });

  test('xattrs decoded; .wh..wh..opq sets trusted.overlay.opaque=y and stays hidden', () => {
    const etc = at('etc');
    assert.deepEqual(etc.xattrs.get('user.k'), Buffer.from('v\u0000w'));
    assert.deepEqual(etc.xattrs.get('trusted.overlay.opaque'), Buffer.from('y'));
    assert.equal(etc.children?.has('.wh..wh..opq'), false);
    assert.equal(etc.mode, S_IFDIR | 0o700);
  });

  test('.wh.NAME is a 0/0 char device NAME unless the layer has a real NAME', () => {
    const wh = at('etc/passwd');
    assert.equal(wh.mode, S_IFCHR);
    assert.deepEqual(wh.rdev, { major: 0, minor: 0 });
    assert.deepEqual([wh.uid, wh.gid, wh.mtime], [0, 0, T_SEC]);
    assert.equal(at('etc/shadow').kind, 'reg');
    assert.equal(at('etc').children?.has('.wh.passwd'), false);
  });

  test('opaque xattr names are configurable', () => {
    const t = buildInodeTable(entries, { opaqueXattrs: ['trusted.overlay.opaque', 'user.overlay.opaque'] });
    assert.deepEqual(t.lookupPath('etc')?.xattrs.get('user.overlay.opaque'), Buffer.from('y'));
  });

  test('inode numbers are stable for the same TOC and unique per inode', () => {
    const again = buildInodeTable(entries);
    for (const n of table.inodes()) assert.equal(again.get(n.ino)?.path, n.path);
    const inos = [...table.inodes()].map((n) => n.ino);
    assert.equal(new Set(inos).size, inos.length);
    assert.equal(table.get(at('bin/ash').ino), at('bin/sh'));
  });

  test('a later entry of the same name replaces the earlier one; a dir keeps its children', () => {
    const t = buildInodeTable([
      { name: 'a', type: 'reg', size: 1 },
      { name: 'a', type: 'reg', size: 2 },
      { name: 'd/x', type: 'reg', size: 0 },
      { name: 'd', type: 'dir', mode: 0o700 },
    ]);
    assert.equal(t.lookupPath('a')?.size, 2);
    assert.equal(t.lookupPath('d')?.mode, S_IFDIR | 0o700);
    assert.ok(t.lookupPath('d/x'));
    assert.equal(t.size, 4);
  });

  test('hostile TOCs are rejected with InvalidArgument naming the path', () => {
    assert.throws(() => buildInodeTable([{ name: 'x', type: 'hardlink', linkName: 'nope' }]), /"x" points to a missing entry "nope"/);
    assert.throws(() => buildInodeTable([{ name: 'd', type: 'dir' }, { name: 'x', type: 'hardlink', linkName: 'd' }]), /directory/);
    assert.throws(() => buildInodeTable([{ name: 'f', type: 'reg' }, { name: 'f/g', type: 'reg' }]), /"f" is a reg, not a directory/);
    assert.throws(() => buildInodeTable([{ name: 'f', type: 'socket' as never }]), /unsupported type/);
  });

  test('chunk entries and ".." in names are handled', () => {
    const t = buildInodeTable([
      { name: 'a/../b', type: 'reg', size: 10 },
      { name: 'b', type: 'chunk', chunkOffset: 5, chunkSize: 5 },
    ]);
    assert.equal(t.lookupPath('b')?.size, 10);
    assert.equal(t.lookupPath('a'), undefined);
  });
});
