// Real FUSE mounts of the in-memory filesystem: attributes, listings, links, special files, xattrs, exact
// reads at odd offsets and 1 MiB reads, parallel readers, and a failing handler that must not kill the mount.
// Everything touching the mount from this process is async (the mount is served by this process's main thread).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, open, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountFuse, type FuseMount } from '../../src/fuse/mount.js';
import { MemoryFs, patternSlice } from './memory-fs.js';

const skip = process.getuid?.() !== 0 ? 'needs root: mounting FUSE (/dev/fuse, mount -t fuse) requires CAP_SYS_ADMIN' : false;
const MiB = 1 << 20;

/** sha256 of a pattern file of `size` bytes, computed without the mount. */
function patternSha(size: number): string {
  const h = createHash('sha256');
  for (let off = 0; off < size; off += MiB) h.update(patternSlice(off, Math.min(MiB, size - off)));
  return h.digest('hex');
}

const rdevMajor = (rdev: number) => ((rdev >> 8) & 0xfff) | Math.floor(rdev / 2 ** 32) & ~0xfff;
const rdevMinor = (rdev: number) => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

describe('FUSE mount of an in-memory filesystem', { skip }, () => {
  let tmp = '';
  let dir = '';
  let m: FuseMount;
  const fs = new MemoryFs();
  const readSizes: number[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fuse-mount-'));
    dir = join(tmp, 'mnt');
    await execa('mkdir', [dir]);
    fs.mkdir('etc').file('etc/hostname', 'ctr\n', { uid: 1000, gid: 1001, mode: 0o600, mtime: 1_600_000_000 })
      .symlink('etc/rel', 'hostname').symlink('abs', '/etc/hostname')
      .mkdir('data').patternFile('data/ten.bin', 10 * MiB).file('data/hard1', 'same inode\n').link('data/hard2', 'data/hard1')
      .mkdir('dev').fifo('dev/fifo').chardev('dev/null', 1, 3).chardev('dev/wh', 0, 0).chardev('dev/big', 300, 70000)
      .mkdir('opq').xattr('opq', 'trusted.overlay.opaque', 'y').xattr('etc/hostname', 'user.note', 'hi there')
      .mkdir('many').mkdir('bad').file('bad/file', 'never served\n');
    for (let i = 0; i < 400; i++) fs.file(`many/file-with-a-fairly-long-name-${String(i).padStart(4, '0')}`, `${i}\n`);
    for (let i = 0; i < 4; i++) fs.patternFile(`data/p${i}.bin`, 7 * MiB + i * 4099);
    fs.onRead = (path, _off, size) => {
      readSizes.push(size);
      if (path === 'bad/file' && failBad) throw new TypeError('injected handler bug');
    };
    m = await mountFuse(dir, fs, { onError: () => {} });
  });

  let failBad = true;

  after(async () => {
    if (m) await m.unmount();
    await rm(tmp, { recursive: true, force: true });
  });

  test('attributes of files, directories and the root', async () => {
    const root = await stat(dir);
    assert.ok(root.isDirectory());
    assert.equal(root.ino, 1);
    const h = await stat(join(dir, 'etc/hostname'));
    assert.ok(h.isFile());
    assert.equal(h.size, 4);
    assert.equal(h.mode & 0o7777, 0o600);
    assert.equal(h.uid, 1000);
    assert.equal(h.gid, 1001);
    assert.equal(Math.floor(h.mtimeMs / 1000), 1_600_000_000);
    assert.equal((await stat(join(dir, 'data/ten.bin'))).size, 10 * MiB);
    await assert.rejects(stat(join(dir, 'etc/missing')), { code: 'ENOENT' });
  });

  test('symlinks, hard links, fifo and character devices', async () => {
    assert.equal(await readlink(join(dir, 'etc/rel')), 'hostname');
    assert.equal(await readlink(join(dir, 'abs')), '/etc/hostname');
    assert.equal(await readFile(join(dir, 'etc/rel'), 'utf8'), 'ctr\n', 'relative symlink followed inside the mount');
    const [a, b] = await Promise.all([stat(join(dir, 'data/hard1')), stat(join(dir, 'data/hard2'))]);
    assert.equal(a.ino, b.ino);
    assert.equal(a.nlink, 2);
    assert.ok((await lstat(join(dir, 'dev/fifo'))).isFIFO());
    for (const [name, major, minor] of [['null', 1, 3], ['wh', 0, 0], ['big', 300, 70000]] as const) {
      const s = await lstat(join(dir, 'dev', name));
      assert.ok(s.isCharacterDevice(), name);
      assert.deepEqual([rdevMajor(s.rdev), rdevMinor(s.rdev)], [major, minor], name);
    }
  });

  test('readdir lists every entry, across several READDIR calls', async () => {
    assert.deepEqual((await readdir(dir)).sort(), ['abs', 'bad', 'data', 'dev', 'etc', 'many', 'opq']);
    const many = await readdir(join(dir, 'many'));
    assert.equal(many.length, 400);
    assert.equal(new Set(many).size, 400);
    const { stdout } = await execa('ls', ['-a', join(dir, 'etc')]);
    assert.deepEqual(stdout.split('\n'), ['.', '..', 'hostname', 'rel']);
    const { stdout: ids } = await execa('ls', ['-ai', join(dir, 'etc')]);
    const dotdot = ids.split('\n').find((l) => l.trim().endsWith(' ..'))!;
    assert.equal(Number(dotdot.trim().split(' ')[0]), 1, '".." of /etc is the root inode');
  });

  test('xattrs: getxattr, listxattr, trusted.overlay.opaque, ENODATA', async () => {
    const py = `import os,sys,errno
p=sys.argv[1]
print(os.getxattr(p+'/etc/hostname','user.note').decode())
print(sorted(os.listxattr(p+'/etc/hostname')))
print(os.getxattr(p+'/opq','trusted.overlay.opaque').decode())
try:
  os.getxattr(p+'/etc','user.none')
except OSError as e:
  print(errno.errorcode[e.errno])`;
    const { stdout } = await execa('python3', ['-c', py, dir]);
    assert.deepEqual(stdout.split('\n'), ['hi there', "['user.note']", 'y', 'ENODATA']);
  });

  test('reads at odd offsets return exact bytes', async () => {
    const f = await open(join(dir, 'data/ten.bin'));
    try {
      for (const [off, len] of [[1, 1], [4095, 2], [65_520, 70_000], [3 * MiB + 17, MiB + 3], [10 * MiB - 5, 100]] as const) {
        const buf = Buffer.alloc(len);
        const { bytesRead } = await f.read(buf, 0, len, off);
        const want = Math.min(len, 10 * MiB - off);
        assert.equal(bytesRead, want, `bytes at ${off}`);
        assert.ok(buf.subarray(0, want).equals(patternSlice(off, want)), `content at ${off}`);
      }
    } finally {
      await f.close();
    }
  });

  test('an uncached file hashes right, read ahead in 1 MiB READs; 4 MiB direct reads arrive as 1 MiB READs', async () => {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    readSizes.length = 0;
    await execa('dd', [`if=${join(dir, 'data/ten.bin')}`, 'of=/dev/null', 'bs=1M']);
    assert.deepEqual([...new Set(readSizes)], [MiB], 'readahead raised to 1 MiB after INIT');
    const sum = await execa('sha256sum', [join(dir, 'data/ten.bin')]);
    assert.equal(sum.stdout.split(' ')[0], patternSha(10 * MiB));
    readSizes.length = 0;
    await execa('dd', [`if=${join(dir, 'data/ten.bin')}`, 'of=/dev/null', 'bs=4M', 'iflag=direct']);
    assert.equal(Math.max(...readSizes), MiB, `largest READ ${Math.max(...readSizes)}`);
    assert.ok(readSizes.filter((s) => s === MiB).length >= 10, `1 MiB READs: ${readSizes.length}`);
  });

  test('parallel readers in separate processes all get their own bytes', async () => {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    const files = [0, 1, 2, 3].map((i) => ({ path: join(dir, `data/p${i}.bin`), size: 7 * MiB + i * 4099 }));
    const results = await Promise.all(files.map((f) => execa('sha256sum', [f.path])));
    results.forEach((r, i) => assert.equal(r.stdout.split(' ')[0], patternSha(files[i]!.size), files[i]!.path));
  });

  test('a handler that throws gives EIO to cat; the mount keeps serving', async () => {
    const r = await execa('cat', [join(dir, 'bad/file')], { reject: false });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /Input\/output error/);
    assert.equal(await readFile(join(dir, 'etc/hostname'), 'utf8'), 'ctr\n');
    failBad = false;
    assert.equal((await execa('cat', [join(dir, 'bad/file')])).stdout, 'never served');
  });

  test('writes are refused: the mount is read-only', async () => {
    await assert.rejects(writeFile(join(dir, 'new'), 'x'), { code: 'EROFS' });
  });

  test('unmount ends the connection and the directory is empty again', async () => {
    assert.ok(m.stats.requests > 50);
    await m.unmount();
    await m.closed;
    assert.deepEqual(await readdir(dir), []);
    const info = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!info.includes(dir));
  });
});

/** Open file descriptors of this process on /dev/fuse. */
async function fuseFds(): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === '/dev/fuse') n++;
  }
  return n;
}

describe('device readers: the event loop (default) and the worker fallback', { skip }, () => {
  for (const reader of ['stream', 'workers'] as const) {
    test(`${reader}: parallel reads are exact, the loop says how it reads, and unmount closes the device`, async () => {
      const tmp = await mkdtemp(join(tmpdir(), `fuse-${reader}-`));
      const dir = join(tmp, 'mnt');
      await execa('mkdir', [dir]);
      const before = await fuseFds();
      const fs = new MemoryFs().mkdir('d').patternFile('d/big.bin', 9 * MiB + 123);
      for (let i = 0; i < 64; i++) fs.file(`d/f${i}`, `file ${i}\n`.repeat(i + 1));
      const m = await mountFuse(dir, fs, reader === 'workers' ? { reader } : {});
      try {
        assert.equal(m.stats.reader, reader);
        assert.equal(await fuseFds(), before + 1, 'one device fd while mounted');
        const [big, ...small] = await Promise.all([
          readFile(join(dir, 'd/big.bin')),
          ...Array.from({ length: 64 }, (_, i) => readFile(join(dir, `d/f${i}`), 'utf8')),
        ]);
        assert.equal(createHash('sha256').update(big as Buffer).digest('hex'), patternSha(9 * MiB + 123));
        small.forEach((s, i) => assert.equal(s, `file ${i}\n`.repeat(i + 1)));
      } finally {
        await m.unmount();
      }
      assert.equal(await fuseFds(), before, 'the device fd is closed once, after unmount');
      await rm(tmp, { recursive: true, force: true });
    });
  }
});
