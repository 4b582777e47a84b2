// GNU tar archives (pax, gnu, ustar, v7) → our reader: the same headers as the files on disk, payloads and
// offsets exact, whether fed whole or one byte at a time.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, mkdir, symlink, link, lstat, readlink, readFile, chown, utimes, lchown } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTarBuffer } from '../../src/tar/reader.js';
import { paddingFor, type TarHeader } from '../../src/tar/header.js';
import { chunked, collect, gnuTar, isRoot } from './tar-fixtures.js';

type Format = 'pax' | 'gnu' | 'ustar' | 'v7';
const FRACTION_NS = 250_000_000n;
const long = (c: string, n: number) => c.repeat(n);

/** Relative paths in archive order (tar --sort=name), per format (v7 cannot hold long names or devices). */
function pathsFor(format: Format): string[] {
  const common = ['d', 'd/a.txt', 'd/b-hard', 'd/block600', 'd/empty', 'd/fifo', 'd/link', 'd/sub', 'd/sub/deep.txt'];
  const dev = isRoot && format !== 'v7' ? ['d/null'] : [];
  const owners = isRoot ? ['d/owned'] : [];
  const longs = format === 'v7' ? [] : [`d/${long('m', 90)}/${long('n', 90)}`];
  const veryLong = format === 'pax' || format === 'gnu' ? [`d/${long('v', 150)}/${long('w', 150)}`, 'd/symlong', 'd/ünï.txt'] : [];
  const bigOwner = isRoot && (format === 'pax' || format === 'gnu') ? ['d/zbig'] : [];
  return [...common, ...dev, ...owners, ...longs, ...veryLong, ...bigOwner].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function buildTree(root: string): Promise<void> {
  const d = join(root, 'd');
  await mkdir(join(d, 'sub'), { recursive: true });
  await writeFile(join(d, 'a.txt'), 'hello world\n');
  await link(join(d, 'a.txt'), join(d, 'b-hard'));
  await writeFile(join(d, 'block600'), Buffer.alloc(600, 0x41));
  await writeFile(join(d, 'empty'), '');
  execFileSync('mkfifo', [join(d, 'fifo')]);
  await symlink('a.txt', join(d, 'link'));
  await writeFile(join(d, 'sub', 'deep.txt'), 'deep');
  await mkdir(join(d, long('m', 90)));
  await writeFile(join(d, long('m', 90), long('n', 90)), 'split');
  await mkdir(join(d, long('v', 150)));
  await writeFile(join(d, long('v', 150), long('w', 150)), 'very long');
  await symlink(long('t', 200), join(d, 'symlong'));
  await writeFile(join(d, 'ünï.txt'), 'unicode');
  if (isRoot) {
    execFileSync('mknod', [join(d, 'null'), 'c', '1', '3']);
    await writeFile(join(d, 'owned'), 'x');
    await chown(join(d, 'owned'), 300000, 300001);
    await writeFile(join(d, 'zbig'), 'big');
    await chown(join(d, 'zbig'), 3000000, 4000000);
    await lchown(join(d, 'link'), 5, 6);
    execFileSync('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], "user.bin", bytes([0,255,10,61]))', join(d, 'a.txt')]);
  }
  await utimes(join(d, 'a.txt'), 1700000000.25, 1700000000.25);
}

/** What a faithful reader must report for `rel` in `format`, from lstat. */
async function expected(root: string, rel: string, format: Format, firstOfInode: Map<bigint, string>): Promise<Partial<TarHeader>> {
  const p = join(root, rel);
  const st = await lstat(p, { bigint: true });
  const h: Partial<TarHeader> = { name: st.isDirectory() ? `${rel}/` : rel, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
  h.mtime = Number(st.mtimeNs / 1_000_000_000n);
  if (format === 'pax' && st.mtimeNs % 1_000_000_000n !== 0n) h.mtimeNsec = Number(st.mtimeNs % 1_000_000_000n);
  const first = firstOfInode.get(st.ino);
  if (st.isFile() && first !== undefined && st.nlink > 1n) Object.assign(h, { type: 'hardlink', linkname: first, size: 0 });
  else if (st.isFile()) Object.assign(h, { type: 'file', size: Number(st.size) });
  else if (st.isDirectory()) Object.assign(h, { type: 'dir', size: 0 });
  else if (st.isSymbolicLink()) Object.assign(h, { type: 'symlink', size: 0, linkname: await readlink(p) });
  else if (st.isFIFO()) Object.assign(h, { type: 'fifo', size: 0 });
  else if (st.isCharacterDevice()) Object.assign(h, { type: 'char', size: 0, devmajor: Number(st.rdev >> 8n) & 0xfff, devminor: Number(st.rdev & 0xffn) });
  if (st.isFile() && !firstOfInode.has(st.ino)) firstOfInode.set(st.ino, rel);
  return h;
}

/** Keep the fields of `h` that `want` names (uname/gname depend on the host's passwd). */
const pick = (h: TarHeader, want: Partial<TarHeader>) => Object.fromEntries(Object.keys(want).map((k) => [k, h[k as keyof TarHeader]]));

describe('GNU tar archives read by our reader', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tar-reader-'));
    await buildTree(join(root, 'src'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  for (const format of ['pax', 'gnu', 'ustar', 'v7'] as const) {
    test(`--format=${format}: headers, payloads and offsets match the files`, async () => {
      const paths = pathsFor(format);
      const out = join(root, `${format}.tar`);
      gnuTar(['--format', format, '--xattrs', '--sort=name', '--numeric-owner', '-cf', out, '-C', join(root, 'src'), '--no-recursion', ...paths]);
      const buf = await readFile(out);
      const whole = await collect(chunked(buf, buf.length));
      const firstOfInode = new Map<bigint, string>();
      assert.deepEqual(whole.map((e) => e.header.name), await Promise.all(paths.map(async (p) => ((await lstat(join(root, 'src', p))).isDirectory() ? `${p}/` : p))));
      for (const [i, e] of whole.entries()) {
        const want = await expected(join(root, 'src'), paths[i]!, format, firstOfInode);
        assert.deepEqual(pick(e.header, want), want, `${format} ${paths[i]}`);
        assert.deepEqual(e.data, buf.subarray(e.dataOffset, e.dataOffset + e.header.size));
        if (e.header.type === 'file') assert.deepEqual(e.data, await readFile(join(root, 'src', paths[i]!)));
        const next = whole[i + 1];
        if (next) assert.equal(next.headerOffset, e.dataOffset + e.header.size + paddingFor(e.header.size));
      }
      if (format === 'pax' && isRoot) {
        const a = whole.find((e) => e.header.name === 'd/a.txt');
        assert.deepEqual(a?.header.xattrs?.get('user.bin'), Buffer.from([0, 255, 10, 61]));
        assert.equal(a?.header.mtimeNsec, Number(FRACTION_NS));
      }
      const bytewise = await collect(chunked(buf, 1));
      assert.deepEqual(bytewise, whole, 'byte-at-a-time gives the same entries and offsets');
      assert.deepEqual(parseTarBuffer(buf).map((e) => ({ h: e.header, d: e.data })), whole.map((e) => ({ h: e.header, d: e.data })));
    });
  }
});
