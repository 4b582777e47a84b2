// unpackLayer on ordinary layers: the same tree as GNU tar extracts; whiteouts applied (flattened) and in
// overlayfs spelling, checked through a real overlay mount.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, writeFile, readdir, readFile, lstat } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTar } from '../../src/tar/writer.js';
import type { TarHeader } from '../../src/tar/header.js';
import { unpackLayer } from '../../src/unpack/unpack-layer.js';
import { listXattrs, snapshot } from './tree-snapshot.js';

const isRoot = process.getuid?.() === 0;
const T = 1700000000;
const b = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: T } as const;
type E = { header: TarHeader; data?: Buffer };
const file = (name: string, text: string, extra: Partial<TarHeader> = {}): E => ({ header: { ...b, name, type: 'file', size: Buffer.byteLength(text), ...extra }, data: Buffer.from(text) });
const dir = (name: string, extra: Partial<TarHeader> = {}): E => ({ header: { ...b, name, type: 'dir', mode: 0o755, ...extra } });
const wh = (name: string): E => ({ header: { ...b, name, type: 'file' } });
const stream = (entries: E[]) => [encodeTar(entries)];

const layer: E[] = [
  dir('./'),
  dir('etc/', { mode: 0o750, uid: 12, gid: 34, mtimeNsec: 5000 }),
  file('etc/conf', 'conf\n', { uid: 300000, gid: 300001, mtimeNsec: 250_000_000, xattrs: new Map([['user.bin', Buffer.from([0, 255, 10])]]) }),
  file('etc/suid', 'x', { mode: 0o4755 }),
  file(`deep/${'n'.repeat(120)}/${'m'.repeat(150)}`, 'long'),
  { header: { ...b, name: 'etc/link', type: 'symlink', mode: 0o777, linkname: 'conf', uid: 7, gid: 8 } },
  { header: { ...b, name: 'etc/hard', type: 'hardlink', linkname: 'etc/conf' } },
  { header: { ...b, name: 'dev/null', type: 'char', mode: 0o666, devmajor: 1, devminor: 3 } },
  { header: { ...b, name: 'dev/fifo', type: 'fifo', mode: 0o620 } },
  dir('ro/', { mode: 0o555 }),
  file('ro/inside', 'written before the dir became read-only'),
  file('/abs/made-relative', 'abs'),
];

describe('unpackLayer', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'unpack-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test('unpacks the same tree as GNU tar (modes, owners, times, links, devices, xattrs)', { skip: isRoot ? false : 'needs root: owners and devices need CAP_CHOWN/CAP_MKNOD' }, async () => {
    const ours = join(tmp, 'ours');
    const gnu = join(tmp, 'gnu');
    await mkdir(ours);
    await mkdir(gnu);
    const tarFile = join(tmp, 'layer.tar');
    await writeFile(tarFile, encodeTar(layer));
    const r = await unpackLayer(stream(layer), ours, { whiteouts: 'apply' });
    assert.deepEqual(r.warnings, []);
    assert.equal(r.entries, layer.length);
    execFileSync('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--same-owner', '-xpf', tarFile, '-C', gnu]);
    // implicit parents get "now"; GNU tar also resets etc/'s time when the archive returns to it later
    const a = await snapshot(ours, { xattrs: true, dirMtimes: false });
    const g = await snapshot(gnu, { xattrs: true, dirMtimes: false });
    assert.deepEqual(a, g);
    assert.match((await snapshot(ours))['etc'] ?? '', /^d 750 12:34 t=1700000000000005$/);
    assert.match(a['etc/conf'] ?? '', /^f 644 300000:300001 t=1700000000250000 n=2 /);
    assert.match(a['etc/conf'] ?? '', /x=user.bin=00ff0a$/);
    assert.match(a['abs/made-relative'] ?? '', /^f 644/);
  });

  test('apply mode: whiteouts and opaque dirs remove lower content only', async () => {
    const root = join(tmp, 'apply');
    await mkdir(root);
    await unpackLayer(stream([file('a/keep', '1'), file('a/gone', '2'), file('o/lower1', '3'), file('o/sub/lower2', '4'), file('x/y', '5')]), root, { whiteouts: 'apply' });
    const upper = [
      wh('a/.wh.gone'),
      file('o/mine-before', 'm1'),
      file('o/sub/mine', 'm3'),
      wh('o/.wh..wh..opq'),
      file('o/mine-after', 'm2'),
      wh('x/.wh.y'),
      wh('missing/.wh.nothing'),
      wh('a/.wh..wh.plnk'),
      file('a/new', 'n'),
      wh('a/.wh.new'), // same-layer file: not hidden
    ];
    await unpackLayer(stream(upper), root, { whiteouts: 'apply' });
    const names = Object.keys(await snapshot(root, { mtimes: false }));
    assert.deepEqual(names, ['.', 'a', 'a/keep', 'a/new', 'o', 'o/mine-after', 'o/mine-before', 'o/sub', 'o/sub/mine', 'x']);
  });

  test('overlayfs mode: whiteouts become 0/0 char devices and opaque xattrs, and a real overlay mount shows the apply-mode tree', { skip: isRoot ? false : 'needs root: mknod 0/0, trusted.* xattrs and mount -t overlay' }, async () => {
    const lower = [file('a/keep', '1'), file('a/gone', '2'), file('o/lower1', '3'), file('o/sub/lower2', '4'), dir('d/'), file('d/f', 'f')];
    const upper = [wh('a/.wh.gone'), file('o/mine', 'm'), wh('o/.wh..wh..opq'), wh('.wh.d'), file('n/new', 'n')];
    const l0 = join(tmp, 'l0');
    const l1 = join(tmp, 'l1');
    const flat = join(tmp, 'flat');
    for (const d of [l0, l1, flat]) await mkdir(d);
    await unpackLayer(stream(lower), l0, { whiteouts: 'overlayfs' });
    await unpackLayer(stream(upper), l1, { whiteouts: 'overlayfs' });
    await unpackLayer(stream(lower), flat, { whiteouts: 'apply' });
    await unpackLayer(stream(upper), flat, { whiteouts: 'apply' });
    const gone = await lstat(join(l1, 'a/gone'));
    assert.ok(gone.isCharacterDevice() && gone.rdev === 0, 'whiteout is a 0/0 char device');
    assert.equal(listXattrs(join(l1, 'o')), 'trusted.overlay.opaque=79');
    const merged = join(tmp, 'merged');
    await mkdir(merged);
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${l1}:${l0}`, merged]);
    try {
      const view = await snapshot(merged, { mtimes: false });
      const expected = await snapshot(flat, { mtimes: false });
      assert.deepEqual(Object.keys(view), Object.keys(expected));
      assert.equal(await readFile(join(merged, 'o/mine'), 'utf8'), 'm');
    } finally {
      execFileSync('umount', [merged]);
    }
  });

  test('without privileges devices are skipped with a warning and owners are left alone', async () => {
    const root = join(tmp, 'unpriv');
    await mkdir(root);
    const warnings: string[] = [];
    const r = await unpackLayer(stream([file('f', 'x', { uid: 4242 }), { header: { ...b, name: 'null', type: 'char', devmajor: 1, devminor: 3 } }]), root, { whiteouts: 'apply', privileged: false, onWarning: (w) => warnings.push(w) });
    assert.deepEqual(await readdir(root), ['f']);
    assert.equal((await lstat(join(root, 'f'))).uid, process.getuid?.());
    assert.deepEqual(r.warnings, warnings);
    assert.match(warnings[0] ?? '', /skipped char device "null" \(creating devices needs root\)/);
  });

  test('a later entry replaces files, symlinks and directories without following them', async () => {
    const root = join(tmp, 'replace');
    await mkdir(root);
    const outside = join(tmp, 'outside-target');
    await writeFile(outside, 'original');
    await unpackLayer(stream([{ header: { ...b, name: 'l', type: 'symlink', linkname: outside } }, dir('d/'), file('d/x', 'x'), file('f', 'old')]), root, { whiteouts: 'apply' });
    await unpackLayer(stream([file('l', 'new'), file('d', 'now a file'), dir('f/'), file('f/y', 'y'), dir('g/', { mode: 0o700 }), file('g', 'file wins', { mode: 0o640 })]), root, { whiteouts: 'apply' });
    assert.equal((await lstat(join(root, 'g'))).mode & 0o7777, 0o640, 'a replaced dir entry leaves no metadata behind');
    assert.equal(await readFile(outside, 'utf8'), 'original');
    assert.equal(await readFile(join(root, 'l'), 'utf8'), 'new');
    assert.equal(await readFile(join(root, 'd'), 'utf8'), 'now a file');
    assert.equal(await readFile(join(root, 'f/y'), 'utf8'), 'y');
  });
});

test('overlayfs mode: a same-layer entry after its whiteout replaces the 0/0 device', { skip: isRoot ? false : 'needs root: mknod 0/0' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'unpack-wh-'));
  try {
    await unpackLayer(stream([dir('d/'), wh('d/.wh.x'), file('d/x', 'back')]), root, { whiteouts: 'overlayfs' });
    assert.equal(await readFile(join(root, 'd/x'), 'utf8'), 'back');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('abort and bad input stop the unpack with a CtrError and no write left running', async () => {
  const root = await mkdtemp(join(tmpdir(), 'unpack-abort-'));
  try {
    const many = Array.from({ length: 200 }, (_, i) => file(`d/f${i}`, 'x'.repeat(100)));
    const ac = new AbortController();
    let seen = 0;
    const tar = encodeTar(many);
    async function* src(): AsyncGenerator<Buffer> {
      for (let i = 0; i < tar.length; i += 1024) {
        if (++seen === 40) ac.abort();
        yield tar.subarray(i, i + 1024);
      }
    }
    await mkdir(join(root, 'a'));
    await assert.rejects(unpackLayer(src(), join(root, 'a'), { whiteouts: 'apply', signal: ac.signal }), { code: 'Aborted' });
    const count = (await readdir(join(root, 'a/d'))).length;
    assert.ok(count > 0 && count < 200, `${count} files before the abort`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await readdir(join(root, 'a/d'))).length, count, 'nothing written after the promise settled');
    await mkdir(join(root, 'b'));
    await assert.rejects(unpackLayer([tar.subarray(0, 5000)], join(root, 'b'), { whiteouts: 'apply' }), { code: 'InvalidArgument', message: /truncated tar/ });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a real tree (zoneinfo and perl: thousands of files, symlinks) unpacks exactly as GNU tar does', { skip: isRoot ? false : 'needs root: owners of the host files' }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'unpack-real-'));
  try {
    const tarFile = join(root, 'real.tar');
    execFileSync('tar', ['--format=pax', '-cf', tarFile, '-C', '/', 'usr/share/zoneinfo', 'usr/share/perl']);
    for (const d of ['ours', 'gnu']) await mkdir(join(root, d));
    const t0 = performance.now();
    const { createReadStream } = await import('node:fs');
    const r = await unpackLayer(createReadStream(tarFile), join(root, 'ours'), { whiteouts: 'apply' });
    const ms = performance.now() - t0;
    execFileSync('tar', ['--numeric-owner', '--same-owner', '-xpf', tarFile, '-C', join(root, 'gnu')]);
    const a = await snapshot(join(root, 'ours'), { dirMtimes: false });
    const g = await snapshot(join(root, 'gnu'), { dirMtimes: false });
    assert.ok(Object.keys(a).length > 2000, `${Object.keys(a).length} paths`);
    assert.deepEqual(a, g);
    assert.deepEqual(r.warnings, []);
    console.log(`# unpacked ${r.entries} entries, ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${ms.toFixed(0)} ms`);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('overlayfs whiteouts without privileges are a clear Unsupported error, not a silently wrong layer', async () => {
  const root = await mkdtemp(join(tmpdir(), 'unpack-unpriv-wh-'));
  try {
    await assert.rejects(unpackLayer(stream([file('a/x', 'x'), wh('a/.wh.y')]), root, { whiteouts: 'overlayfs', privileged: false }), {
      code: 'Unsupported',
      message: /whiteout "a\/.wh.y" in overlayfs mode needs root/,
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
