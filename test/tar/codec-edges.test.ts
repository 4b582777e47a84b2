// Codec edge cases: the exact ustar/PAX boundaries, values beyond octal range, negative and fractional
// times, and lossless read → write → read of GNU tar's PAX archives (atime/ctime kept in paxExtra).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHeader, encodeTar, END_OF_ARCHIVE } from '../../src/tar/writer.js';
import { parseTarBuffer, readTar } from '../../src/tar/reader.js';
import { BLOCK, type TarHeader } from '../../src/tar/header.js';
import { gnuTar } from './tar-fixtures.js';

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 } as const;
const roundTrip = (h: TarHeader) => parseTarBuffer(encodeTar([{ header: h }]))[0]?.header;
const usesPax = (h: TarHeader) => encodeHeader(h).length > BLOCK;

test('uid/gid switch to PAX exactly above 0o7777777, names exactly above the ustar limits', () => {
  assert.equal(usesPax({ ...base, name: 'f', type: 'file', uid: 2097151, gid: 2097151 }), false);
  assert.equal(usesPax({ ...base, name: 'f', type: 'file', uid: 2097152 }), true);
  assert.equal(roundTrip({ ...base, name: 'f', type: 'file', uid: 2097152, gid: 2 ** 40 })?.gid, 2 ** 40);
  assert.equal(usesPax({ ...base, name: 'n'.repeat(100), type: 'file' }), false);
  assert.equal(usesPax({ ...base, name: 'n'.repeat(101), type: 'file' }), true, 'no "/" to split at');
  assert.equal(usesPax({ ...base, name: `${'p'.repeat(155)}/${'n'.repeat(100)}`, type: 'file' }), false, '255 bytes split');
  assert.equal(usesPax({ ...base, name: `${'p'.repeat(156)}/${'n'.repeat(99)}`, type: 'file' }), true, 'prefix 156 > 155');
  assert.equal(usesPax({ ...base, name: 'f', type: 'symlink', linkname: 'l'.repeat(100) }), false);
  assert.equal(usesPax({ ...base, name: 'f', type: 'symlink', linkname: 'l'.repeat(101) }), true);
  assert.equal(usesPax({ ...base, name: 'f', type: 'file', uname: 'u'.repeat(32) }), false);
  assert.equal(roundTrip({ ...base, name: 'f', type: 'file', uname: 'u'.repeat(33), gname: 'grüppe' })?.uname, 'u'.repeat(33));
  assert.equal(roundTrip({ ...base, name: 'f', type: 'file', gname: 'grüppe' })?.gname, 'grüppe');
});

test('negative, huge and fractional mtimes round-trip through PAX', () => {
  for (const [mtime, mtimeNsec] of [[-1, 500_000_000], [-5, 0], [8 ** 11, 0], [0, 1], [1700000000, 999_999_999]] as const) {
    const h: TarHeader = { ...base, name: 'f', type: 'file', mtime, ...(mtimeNsec ? { mtimeNsec } : {}) };
    assert.deepEqual(roundTrip(h), h, `mtime ${mtime}.${mtimeNsec}`);
  }
  const pax = encodeHeader({ ...base, name: 'f', type: 'file', mtime: -1, mtimeNsec: 500_000_000 });
  assert.match(pax.toString('latin1', BLOCK, 2 * BLOCK), /mtime=-0\.5\n/);
});

test('sizes of 8 GiB and more go into PAX and are read back without reading the payload', async () => {
  const size = 10 * 2 ** 30;
  const head = encodeHeader({ ...base, name: 'huge', type: 'file', size });
  assert.match(head.toString('latin1', BLOCK, 2 * BLOCK), /size=10737418240\n/);
  for await (const e of readTar([head])) {
    assert.equal(e.header.size, size);
    assert.equal(e.dataOffset, head.length);
    break; // leaving early must not try to skip 10 GiB
  }
});

test('devices with numbers beyond octal use GNU base-256 and read back', () => {
  const h: TarHeader = { ...base, name: 'dev', type: 'block', devmajor: 2 ** 22, devminor: 2 ** 30 };
  assert.deepEqual(roundTrip(h), h);
});

test('xattr values with newlines, "=" and NULs, and unknown PAX records survive', () => {
  const h: TarHeader = {
    ...base,
    name: 'x',
    type: 'file',
    xattrs: new Map([['user.a=b?', Buffer.from('no')]]),
  };
  assert.throws(() => encodeHeader(h), { code: 'InvalidArgument', message: /contains "="/ });
  const ok: TarHeader = { ...base, name: 'x', type: 'file', xattrs: new Map([['security.capability', Buffer.from([1, 0, 0, 2, 0x0a, 0x3d, 0, 0, 0, 0])]]), paxExtra: new Map([['atime', Buffer.from('1.5')], ['VENDOR.key', Buffer.from('v\nw')]]) };
  assert.deepEqual(roundTrip(ok), ok);
});

test('GNU tar PAX archives survive read → write → read with identical headers, and GNU tar agrees', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tar-edges-'));
  try {
    await writeFile(join(dir, 'a'), 'aaa');
    await utimes(join(dir, 'a'), 1600000000.125, 1600000000.5);
    const orig = join(dir, 'orig.tar');
    gnuTar(['--format=pax', '--numeric-owner', '-cf', orig, '-C', dir, 'a']);
    const first = parseTarBuffer(await import('node:fs/promises').then((fs) => fs.readFile(orig)));
    assert.ok(first[0]?.header.paxExtra?.has('atime'), 'GNU tar writes atime, kept in paxExtra');
    const again = encodeTar(first);
    assert.deepEqual(parseTarBuffer(again), first);
    await writeFile(join(dir, 'again.tar'), again);
    const list = (f: string) => gnuTar(['--full-time', '--numeric-owner', '-tvf', f]);
    assert.equal(list(join(dir, 'again.tar')), list(orig));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.equal(END_OF_ARCHIVE.length, 1024);
});
