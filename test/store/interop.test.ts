// The store is a plain OCI image layout: skopeo and umoci read it as it is, and what skopeo writes into
// it our store lists.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyImage } from '../../src/image/copy/copy-image.js';
import { listImages } from '../../src/image/copy/list-images.js';
import { openStore } from '../../src/store/image-store.js';
import { LayoutEndpoint } from '../../src/store/layout-endpoint.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { Context } from '../../src/image/context.js';

let tmp: string;
let root: string;
let img: BuiltImage;
const NAME = '127.0.0.1:5000/app:1';

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'store-interop-'));
  root = join(tmp, 'root');
  img = await buildImage(join(tmp, 'src'), 'app', {
    layers: [
      { entries: [{ path: 'etc/hello.txt', type: 'file', content: 'hello\n' }, { path: 'etc/link', type: 'symlink', target: 'hello.txt' }] },
      { entries: [{ path: 'bin/tool', type: 'file', content: '#!/bin/sh\necho tool\n', mode: 0o755 }] },
    ],
  });
  const store = await openStore(new RootLayout(root));
  await copyImage(new LayoutEndpoint(await openLayout(join(tmp, 'src')), 'app'), new LayoutEndpoint(store, NAME));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const skopeo = (...args: string[]) => execFileSync('skopeo', args, { encoding: 'utf8' });

test('skopeo inspects and copies an image out of our store', () => {
  const inspect = JSON.parse(skopeo('inspect', `oci:${new RootLayout(root).store}:${NAME}`)) as { Digest: string; Layers: string[] };
  assert.equal(inspect.Digest, img.manifestDigest);
  assert.deepEqual(inspect.Layers, img.layers.map((l) => l.digest));
  const out = join(tmp, 'skopeo-out');
  skopeo('copy', '-q', `oci:${new RootLayout(root).store}:${NAME}`, `oci:${out}:copied`);
  const inspectCopy = JSON.parse(skopeo('inspect', `oci:${out}:copied`)) as { Digest: string };
  assert.equal(inspectCopy.Digest, img.manifestDigest);
});

test('umoci unpacks an image from our store', async () => {
  const bundle = join(tmp, 'bundle');
  execFileSync('umoci', ['unpack', '--rootless', '--image', `${new RootLayout(root).store}:${NAME}`, bundle], { encoding: 'utf8' });
  assert.equal(await readFile(join(bundle, 'rootfs', 'etc', 'hello.txt'), 'utf8'), 'hello\n');
  assert.equal(await readFile(join(bundle, 'rootfs', 'bin', 'tool'), 'utf8'), '#!/bin/sh\necho tool\n');
});

test('skopeo copies into our store and our ls lists the image', async () => {
  const other = await buildImage(join(tmp, 'src2'), 'other', { layers: [{ entries: [{ path: 'x', type: 'file', content: 'x' }] }] });
  skopeo('copy', '-q', `oci:${join(tmp, 'src2')}:other`, `oci:${new RootLayout(root).store}:docker.io/library/other:2`);
  const images = await listImages(new Context(root));
  const row = images.find((i) => i.name === 'docker.io/library/other:2');
  assert.ok(row, `listed: ${images.map((i) => i.name).join(', ')}`);
  assert.equal(row.digest, other.manifestDigest);
  assert.equal(row.type, 'full');
  assert.deepEqual(row.platforms, ['linux/amd64']);
  assert.ok(images.some((i) => i.name === NAME), 'the image skopeo did not touch is still there');
});
