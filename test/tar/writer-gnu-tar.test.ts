// Our tar writer → GNU tar: GNU tar lists and extracts what we write with every field intact.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, lstat, readlink, readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHeader, encodeTar, writeTar } from '../../src/tar/writer.js';
import { parseTarBuffer } from '../../src/tar/reader.js';
import { BLOCK, type TarHeader } from '../../src/tar/header.js';
import { gnuTar, isRoot, chunked } from './tar-fixtures.js';

const T = 1700000000;
const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T } as const;
const split = `d/${'s'.repeat(90)}/${'t'.repeat(95)}`; // 188 bytes: fits ustar prefix + name
const veryLong = `d/${'p'.repeat(120)}/${'q'.repeat(120)}/${'r'.repeat(60)}`; // > 255 bytes: needs PAX
const unicode = 'd/ünïcödé-文件.txt';
const binXattr = Buffer.from([0, 0xff, 0x0a, 0x3d, 0x20]);

const entries: { header: TarHeader; data?: Buffer }[] = [
  { header: { ...base, name: 'd/', type: 'dir', mode: 0o755 } },
  { header: { ...base, name: 'd/a.txt', type: 'file', size: 5, uid: 1000, gid: 1001, uname: 'alice', gname: 'staff', mtimeNsec: 123456789 }, data: Buffer.from('hello') },
  { header: { ...base, name: 'd/empty', type: 'file' } },
  { header: { ...base, name: 'd/block512', type: 'file', size: 512, mode: 0o4755 }, data: Buffer.alloc(512, 7) },
  { header: { ...base, name: 'd/block513', type: 'file', size: 513 }, data: Buffer.alloc(513, 9) },
  { header: { ...base, name: split, type: 'file', size: 3 }, data: Buffer.from('abc') },
  { header: { ...base, name: veryLong, type: 'file', size: 4 }, data: Buffer.from('long') },
  { header: { ...base, name: unicode, type: 'file', size: 2 }, data: Buffer.from('uu') },
  { header: { ...base, name: 'd/big-ids', type: 'file', uid: 300000, gid: 3000000 } },
  { header: { ...base, name: 'd/xattrs', type: 'file', xattrs: new Map([['user.bin', binXattr], ['user.text', Buffer.from('v')]]) } },
  { header: { ...base, name: 'd/link', type: 'symlink', mode: 0o777, linkname: 'a.txt' } },
  { header: { ...base, name: 'd/longlink', type: 'symlink', mode: 0o777, linkname: 'z'.repeat(150) } },
  { header: { ...base, name: 'd/hard', type: 'hardlink', linkname: 'd/a.txt' } },
  { header: { ...base, name: 'd/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 } },
  { header: { ...base, name: 'd/loop', type: 'block', mode: 0o660, devmajor: 7, devminor: 300 } },
  { header: { ...base, name: 'd/fifo', type: 'fifo', mode: 0o600 } },
];

describe('tar writer read by GNU tar', () => {
  let dir: string;
  let archive: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tar-writer-'));
    archive = join(dir, 'out.tar');
    await writeFile(archive, encodeTar(entries));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('GNU tar lists every name, owner and size', () => {
    const names = gnuTar(['--quoting-style=literal', '-tf', archive]).trimEnd().split('\n');
    assert.deepEqual(names, entries.map((e) => e.header.name));
    const verbose = gnuTar(['--numeric-owner', '--full-time', '-tvf', archive]);
    assert.match(verbose, /300000\/3000000 +0 2023-11-14 22:13:20 +d\/big-ids/);
    assert.match(verbose, /1000\/1001 +5 2023-11-14 22:13:20\.123456789 d\/a\.txt/);
    assert.match(verbose, /-rwsr-xr-x .* 512 .* d\/block512/);
    assert.match(verbose, /crw-rw-rw- .* 1,3 .* d\/null/);
    assert.match(verbose, /brw-rw---- .* 7,300 .* d\/loop/);
  });

  test('GNU tar extracts identical files, modes, owners, times, links, devices and xattrs', { skip: isRoot ? false : 'needs root: devices and foreign owners need CAP_MKNOD/CAP_CHOWN' }, async () => {
    const out = join(dir, 'x');
    execFileSync('mkdir', [out]);
    gnuTar(['--xattrs', "--xattrs-include=*", '--numeric-owner', '--same-owner', '-xpf', archive, '-C', out]);
    for (const { header: h, data } of entries) {
      const p = join(out, h.name);
      const st = await lstat(p, { bigint: true });
      const want = { file: 'isFile', dir: 'isDirectory', symlink: 'isSymbolicLink', hardlink: 'isFile', char: 'isCharacterDevice', block: 'isBlockDevice', fifo: 'isFIFO' }[h.type];
      assert.ok(st[want as 'isFile'](), `${h.name} is ${h.type}`);
      if (h.type !== 'symlink' && h.type !== 'hardlink') assert.equal(Number(st.mode & 0o7777n), h.mode, `${h.name} mode`);
      if (h.type !== 'hardlink') {
        assert.equal(Number(st.uid), h.uid, `${h.name} uid`);
        assert.equal(Number(st.gid), h.gid, `${h.name} gid`);
      }
      if (h.type === 'file') assert.deepEqual(await readFile(p), data ?? Buffer.alloc(0));
      if (h.type === 'symlink') assert.equal(await readlink(p), h.linkname);
      if (h.type === 'hardlink') assert.equal(st.ino, (await lstat(join(out, h.linkname ?? ''), { bigint: true })).ino);
      if (h.type === 'char' || h.type === 'block') assert.equal(st.rdev, BigInt(makedev(h.devmajor ?? 0, h.devminor ?? 0)));
      if (h.type !== 'dir' && h.type !== 'symlink' && h.type !== 'hardlink') {
        assert.equal(st.mtimeNs, BigInt(h.mtime) * 1_000_000_000n + BigInt(h.mtimeNsec ?? 0), `${h.name} mtime`);
      }
    }
    const xa = execFileSync('python3', ['-c', 'import os,sys; print(os.getxattr(sys.argv[1], "user.bin").hex(), os.getxattr(sys.argv[1], "user.text").hex())', join(out, 'd/xattrs')], { encoding: 'utf8' });
    assert.equal(xa.trim(), `${binXattr.toString('hex')} ${Buffer.from('v').toString('hex')}`);
  });

  test('our reader reads back exactly what we wrote', () => {
    const back = parseTarBuffer(encodeTar(entries));
    assert.deepEqual(back.map((e) => e.header), entries.map((e) => e.header));
  });

  test('headers are deterministic, block-aligned and ustar-only when nothing needs PAX', () => {
    const h = entries[0]!.header;
    assert.equal(encodeHeader(h).length, BLOCK);
    assert.deepEqual(encodeHeader(entries[1]!.header), encodeHeader(entries[1]!.header));
    assert.equal(encodeHeader(entries[5]!.header).length, BLOCK, 'a 188-byte name splits into prefix + name');
    const pax = encodeHeader(entries[6]!.header);
    assert.equal(pax.length % BLOCK, 0);
    assert.equal(String.fromCharCode(pax[156]!), 'x');
    assert.equal(parseTarBuffer(Buffer.concat([pax, Buffer.alloc(1024)]))[0]?.header.name, veryLong);
  });

  test('writeTar streams the same bytes as encodeTar and checks payload sizes', async () => {
    const streamed: Buffer[] = [];
    const src = entries.map((e) => ({ header: e.header, body: e.data ? chunked(e.data, 100) : undefined }));
    for await (const b of writeTar(src)) streamed.push(b);
    assert.deepEqual(Buffer.concat(streamed), encodeTar(entries));
    const short = writeTar([{ header: { ...base, name: 'f', type: 'file', size: 10 }, body: Buffer.from('abc') }]);
    await assert.rejects(async () => { for await (const _ of short); }, { code: 'InvalidArgument', message: /"f" has 3 bytes of data, its header says 10/ });
  });

  test('invalid headers are refused with a clear InvalidArgument', () => {
    assert.throws(() => encodeHeader({ ...base, name: '', type: 'file' }), { code: 'InvalidArgument', message: /name is empty/ });
    assert.throws(() => encodeHeader({ ...base, name: 'x', type: 'dir', size: 3 }), { code: 'InvalidArgument', message: /size 3 on a dir/ });
    assert.throws(() => encodeHeader({ ...base, name: 'x', type: 'file', uid: -1 }), { code: 'InvalidArgument', message: /uid -1/ });
    assert.throws(() => encodeHeader({ ...base, name: 'x', type: 'file', paxExtra: new Map([['path', Buffer.from('y')]]) }), { code: 'InvalidArgument', message: /paxExtra may not carry "path"/ });
  });
});

/** Linux makedev as in glibc. */
function makedev(major: number, minor: number): number {
  return ((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12) | ((major & ~0xfff) * 2 ** 32);
}
