// The image-builder fixture makes what it promises: the tree entries as GNU tar writes them, reproducibly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type ImageSpec } from '../fixtures/image-builder.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'image-builder-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const spec: ImageSpec = {
  layers: [
    {
      entries: [
        { path: 'etc/hello.txt', type: 'file', content: 'hi\n', mode: 0o600 },
        { path: 'data', type: 'dir', mode: 0o700 },
        { path: 'etc/link', type: 'symlink', target: 'hello.txt' },
        { path: 'etc/hard', type: 'hardlink', target: 'etc/hello.txt' },
      ],
    },
    { entries: [{ path: 'etc/hello.txt', type: 'whiteout' }, { path: 'data', type: 'opaque' }] },
    { busybox: true },
  ],
  config: { Cmd: ['/bin/sh', '-c', 'true'] },
};

/** `tar -tv` lines of a layer's uncompressed tar. */
const listing = (tar: Buffer) => execFileSync('tar', ['-tvf', '-', '--numeric-owner'], { input: tar, encoding: 'utf8' }).trim().split('\n');

test('layers hold files, modes, dirs, symlinks, hardlinks, whiteouts and busybox links', async () => {
  const img = await buildImage(join(tmp, 'a'), 'x', spec);
  const [l0, l1, l2] = img.layers.map((l) => listing(l.tar));
  // GNU tar --sort=name: the first of the linked names carries the data, the other is the hardlink.
  assert.ok(l0!.some((l) => /^-rw------- 0\/0 +3 1970-01-01 00:00 etc\/hard$/.test(l)), l0!.join('\n'));
  assert.ok(l0!.some((l) => /^drwx------ 0\/0 .* data\/$/.test(l)));
  assert.ok(l0!.some((l) => /^lrwxrwxrwx 0\/0 .* etc\/link -> hello.txt$/.test(l)));
  assert.ok(l0!.some((l) => /^hrw------- 0\/0 .* etc\/hello.txt link to etc\/hard$/.test(l)));
  assert.ok(l1!.some((l) => l.endsWith(' etc/.wh.hello.txt')));
  assert.ok(l1!.some((l) => l.endsWith(' data/.wh..wh..opq')));
  assert.ok(l2!.some((l) => /^-rwxr-xr-x 0\/0 .* bin\/busybox$/.test(l)));
  assert.ok(l2!.some((l) => l.endsWith(' bin/sh -> busybox')));
  assert.deepEqual(img.config.rootfs.diff_ids.length, 3);
  assert.deepEqual(img.config.config?.Cmd, ['/bin/sh', '-c', 'true']);
});

test('the same spec gives the same digests', async () => {
  const a = await buildImage(join(tmp, 'b'), 'x', spec);
  const b = await buildImage(join(tmp, 'c'), 'y', spec);
  assert.equal(a.manifestDigest, b.manifestDigest);
});
