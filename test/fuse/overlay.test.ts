// overlayfs over two FUSE mounts as lower layers plus a writable upper dir: the way `run` assembles an image.
// Whiteouts (0/0 character devices) and opaque directories (trusted.overlay.opaque=y) must be honoured both
// when they come from a FUSE layer and from the upper dir; copy-up reads from the FUSE lower.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountFuse, type FuseMount } from '../../src/fuse/mount.js';
import { MemoryFs, patternSlice } from './memory-fs.js';

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts require CAP_SYS_ADMIN' : false;

describe('overlayfs over FUSE lower layers', { skip }, () => {
  let tmp = '';
  const mounts: FuseMount[] = [];
  let merged = '';
  let upper = '';

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fuse-overlay-'));
    const [l1, l2, work] = ['l1', 'l2', 'work'].map((d) => join(tmp, d));
    upper = join(tmp, 'upper');
    merged = join(tmp, 'merged');
    for (const d of [l1!, l2!, work!, upper, merged]) await mkdir(d);
    const bottom = new MemoryFs()
      .file('a.txt', 'from bottom\n').file('hidden.txt', 'must not show\n').file('gone.txt', 'upper whites me out\n')
      .mkdir('dir').file('dir/x', 'x\n').file('dir/y', 'y\n')
      .mkdir('opq').file('opq/old1', 'old\n').patternFile('big.bin', 3 << 20);
    const top = new MemoryFs()
      .file('b.txt', 'from top\n').chardev('hidden.txt', 0, 0)
      .mkdir('dir').file('dir/z', 'z\n')
      .mkdir('opq').xattr('opq', 'trusted.overlay.opaque', 'y').file('opq/new1', 'new\n');
    mounts.push(await mountFuse(l1!, bottom, { onError: () => {} }));
    mounts.push(await mountFuse(l2!, top, { onError: () => {} }));
    await execa('mknod', [join(upper, 'gone.txt'), 'c', '0', '0']);
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${l2}:${l1},upperdir=${upper},workdir=${work}`, merged]);
  });

  after(async () => {
    await execa('umount', [merged], { reject: false });
    await Promise.all(mounts.map((m) => m.unmount()));
    await rm(tmp, { recursive: true, force: true });
  });

  test('merged tree: whiteouts from a FUSE layer and from upper hide lower files', async () => {
    assert.deepEqual((await readdir(merged)).sort(), ['a.txt', 'b.txt', 'big.bin', 'dir', 'opq']);
    assert.deepEqual((await readdir(join(merged, 'dir'))).sort(), ['x', 'y', 'z']);
    await assert.rejects(readFile(join(merged, 'hidden.txt')), { code: 'ENOENT' });
    await assert.rejects(readFile(join(merged, 'gone.txt')), { code: 'ENOENT' });
  });

  test('an opaque directory in a FUSE layer hides the lower directory contents', async () => {
    assert.deepEqual(await readdir(join(merged, 'opq')), ['new1']);
  });

  test('file contents come through overlayfs from both layers', async () => {
    assert.equal(await readFile(join(merged, 'a.txt'), 'utf8'), 'from bottom\n');
    assert.equal(await readFile(join(merged, 'b.txt'), 'utf8'), 'from top\n');
    const big = await readFile(join(merged, 'big.bin'));
    assert.equal(big.length, 3 << 20);
    assert.ok(big.subarray(12345, 12345 + 70000).equals(patternSlice(12345, 70000)));
  });

  test('writes copy up from the FUSE lower into upper', async () => {
    await appendFile(join(merged, 'a.txt'), 'appended\n');
    assert.equal(await readFile(join(upper, 'a.txt'), 'utf8'), 'from bottom\nappended\n');
    await rm(join(merged, 'dir', 'x'));
    assert.deepEqual((await readdir(join(merged, 'dir'))).sort(), ['y', 'z']);
    const { stdout } = await execa('stat', ['-c', '%F %t:%T', join(upper, 'dir', 'x')]);
    assert.equal(stdout, 'character special file 0:0', 'deleting a lower file leaves a whiteout in upper');
  });
});
