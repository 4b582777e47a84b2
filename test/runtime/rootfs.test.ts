import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { mountsUnder, parseMountInfo } from '../../src/host/mountinfo.js';
import { readFileInRoot, resolveInRoot } from '../../src/runtime/root-path.js';
import { MAX_LOWERDIRS, mountOverlay, mountOverlayReadOnly } from '../../src/runtime/rootfs.js';
import { unmountUnder } from '../../src/host/unmount.js';

const skip = process.getuid?.() !== 0 ? 'needs root: mounting overlayfs' : false;

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ctr-rootfs-'));
});
after(async () => {
  await unmountUnder(tmp).catch(() => {});
  await rm(tmp, { recursive: true, force: true });
});

/** `count` layer dirs with long, snapshot-like absolute paths; layer i holds file `f<i>` and `shared` = i. */
async function makeLayers(dir: string, count: number): Promise<string[]> {
  const layers: string[] = [];
  for (let i = 0; i < count; i++) {
    const l = join(dir, `sha256-${String(i).padStart(64, '0')}`, 'fs');
    await mkdir(l, { recursive: true });
    await writeFile(join(l, `f${i}`), String(i));
    await writeFile(join(l, 'shared'), String(i));
    layers.push(l);
  }
  return layers.reverse(); // topmost first
}

describe('overlay rootfs', { skip }, () => {
  test('stacks 120 layers with long paths (past the 4 KiB mount option page) topmost first', async () => {
    const layers = await makeLayers(join(tmp, 'many'), 120);
    assert.ok(layers.join(':').length > 4096, 'absolute lowerdirs alone would not fit one page');
    const c = join(tmp, 'c-many');
    await mountOverlay({ lowerdirs: layers, upperdir: join(c, 'upper'), workdir: join(c, 'work'), target: join(c, 'rootfs'), linkDir: c });
    try {
      assert.equal((await readdir(join(c, 'rootfs'))).length, 121);
      assert.equal(await readFile(join(c, 'rootfs/shared'), 'utf8'), '119');
      await writeFile(join(c, 'rootfs/new'), 'x');
      assert.equal(await readFile(join(c, 'upper/new'), 'utf8'), 'x');
      assert.deepEqual((await readdir(layers[0] ?? '')).sort(), ['f119', 'shared']);
    } finally {
      await unmountUnder(c);
    }
    assert.deepEqual(await mountsUnder(c), []);
  });

  test('read-only variant: several layers as an ro overlay, one layer as an ro bind', async () => {
    const layers = await makeLayers(join(tmp, 'ro'), 3);
    const t = join(tmp, 'ro-mnt');
    await mountOverlayReadOnly({ lowerdirs: layers, target: t, linkDir: join(tmp, 'ro-links') });
    try {
      assert.equal(await readFile(join(t, 'shared'), 'utf8'), '2');
      await assert.rejects(writeFile(join(t, 'x'), 'x'), { code: 'EROFS' });
    } finally {
      await unmountUnder(t);
    }
    const one = join(tmp, 'ro-one');
    await mountOverlayReadOnly({ lowerdirs: [layers[2] ?? ''], target: one, linkDir: join(tmp, 'ro-one-links') });
    try {
      assert.equal(await readFile(join(one, 'shared'), 'utf8'), '0');
      await assert.rejects(writeFile(join(one, 'x'), 'x'), { code: 'EROFS' });
    } finally {
      await unmountUnder(one);
    }
  });

  test('refuses more layers than overlayfs stacks, and none', async () => {
    const many = Array.from({ length: MAX_LOWERDIRS + 1 }, (_, i) => `/nonexistent/${i}`);
    const t = join(tmp, 'too-many');
    await assert.rejects(
      mountOverlay({ lowerdirs: many, upperdir: join(t, 'u'), workdir: join(t, 'w'), target: join(t, 'r'), linkDir: t }),
      (e) => isCtrError(e, 'LimitExceeded') && /501 layers/.test(e.message),
    );
    await assert.rejects(mountOverlayReadOnly({ lowerdirs: [], target: join(t, 'r'), linkDir: t }), (e) => isCtrError(e, 'InvalidArgument'));
  });
});

describe('aborting mount and unmount', { skip }, () => {
  test('an aborted signal stops mount and unmount with an Aborted error, leaving the mounts as they were', async () => {
    const layers = await makeLayers(join(tmp, 'abort'), 2);
    const c = join(tmp, 'c-abort');
    const aborted = AbortSignal.abort();
    const m = { lowerdirs: layers, upperdir: join(c, 'upper'), workdir: join(c, 'work'), target: join(c, 'rootfs'), linkDir: c };
    await assert.rejects(mountOverlay({ ...m, signal: aborted }), (e) => isCtrError(e, 'Aborted') && e.message.includes(m.target));
    await assert.rejects(mountOverlayReadOnly({ ...m, signal: aborted }), (e) => isCtrError(e, 'Aborted'));
    await assert.rejects(mountOverlayReadOnly({ ...m, lowerdirs: [layers[0] ?? ''], signal: aborted }), (e) => isCtrError(e, 'Aborted'));
    assert.deepEqual(await mountsUnder(c), []);
    const live = new AbortController();
    await mountOverlay({ ...m, signal: live.signal });
    assert.equal(await readFile(join(m.target, 'shared'), 'utf8'), '1');
    await assert.rejects(unmountUnder(c, aborted), (e) => isCtrError(e, 'Aborted'));
    assert.deepEqual(await mountsUnder(c), [m.target], 'still mounted after the aborted unmount');
    await unmountUnder(c, live.signal);
    assert.deepEqual(await mountsUnder(c), []);
  });
});

describe('paths inside a container root', () => {
  test('absolute and .. symlinks resolve inside the root, never to the host', async () => {
    const root = join(tmp, 'scoped');
    await mkdir(join(root, 'etc'), { recursive: true });
    await mkdir(join(root, 'real'), { recursive: true });
    await writeFile(join(root, 'real/passwd'), 'inside\n');
    await symlink('/real/passwd', join(root, 'etc/passwd'));
    await symlink('../../../../../../etc/hostname', join(root, 'etc/group'));
    await symlink('/etc', join(root, 'etc/loop'));
    assert.equal(await readFileInRoot(root, '/etc/passwd'), 'inside\n');
    assert.equal(await resolveInRoot(root, '/etc/group'), join(root, 'etc/hostname'));
    assert.equal(await readFileInRoot(root, '/etc/group'), undefined, 'the host /etc/hostname is not read');
    assert.equal(await readFileInRoot(root, '/etc/loop/loop/loop/passwd'), 'inside\n');
    assert.equal(await readFileInRoot(root, '/missing/file'), undefined);
  });
  test('symlink loops and oversized files are refused', async () => {
    const root = join(tmp, 'loops');
    await mkdir(root, { recursive: true });
    await symlink('/b', join(root, 'a'));
    await symlink('/a', join(root, 'b'));
    await assert.rejects(readFileInRoot(root, '/a'), (e) => isCtrError(e, 'LimitExceeded'));
    await writeFile(join(root, 'big'), Buffer.alloc(2048));
    await assert.rejects(readFileInRoot(root, '/big', { maxBytes: 1024 }), (e) => isCtrError(e, 'LimitExceeded') && /2048 bytes/.test(e.message));
  });
});

describe('mountinfo', () => {
  test('parses mount points with escaped spaces and the fs type after the separator', () => {
    const text = '36 35 98:0 / /mnt/with\\040space rw,noatime master:1 - overlay overlay rw,lowerdir=l/0\n' + '37 35 0:5 / /proc rw - proc proc rw\n';
    assert.deepEqual(parseMountInfo(text).map(({ mountPoint, fsType, source, superOptions }) => ({ mountPoint, fsType, source, superOptions })), [
      { mountPoint: '/mnt/with space', fsType: 'overlay', source: 'overlay', superOptions: 'rw,lowerdir=l/0' },
      { mountPoint: '/proc', fsType: 'proc', source: 'proc', superOptions: 'rw' },
    ]);
  });
});
