// Images converted by OUR converter (image convert: eStargz and zstd:chunked) mount lazily and read back
// exactly like their source layers unpacked by GNU tar and merged by overlayfs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { convertImage } from '../../src/image/convert/convert.js';
import { mountImage } from '../../src/image/lazy/mount.js';
import { rpullImage } from '../../src/image/lazy/rpull.js';
import { openRegistry } from '../../src/remote/registry-endpoint.js';
import { LayoutEndpoint } from '../../src/store/layout-endpoint.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { noise } from '../fs/fixture-tree.js';
import { diffTrees, snapshotTree } from '../fs/tree-snapshot.js';
import { mountExpected } from './expected-overlay.js';
import { Context } from '../../src/image/context.js';

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts' : false;

describe('images converted by image convert mount and read back exactly', { skip }, () => {
  let work: string;
  let registry: RegistryFixture;
  let img: BuiltImage;
  let expected: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-convmount-'));
    registry = await startRegistry();
    img = await buildImage(join(work, 'layout'), 'app:1', {
      layers: [
        { entries: [
          { path: 'etc/hello.txt', type: 'file', content: 'hi\n' },
          { path: 'etc/big.bin', type: 'file', content: noise(5 << 20, 3) },
          { path: 'etc/hard', type: 'hardlink', target: 'etc/hello.txt' },
          { path: 'etc/link', type: 'symlink', target: 'hello.txt' },
          { path: 'data/a', type: 'file', content: 'a\n', mode: 0o600 },
          { path: 'data/sub', type: 'dir', mode: 0o700 },
          { path: 'empty', type: 'file', content: '' },
        ] },
        { entries: [
          { path: 'etc/hello.txt', type: 'whiteout' },
          { path: 'data', type: 'opaque' },
          { path: 'data/b', type: 'file', content: 'b\n' },
        ] },
      ],
    });
    expected = await mountExpected(work, img.layers.map((l) => l.tar));
  });

  after(async () => {
    if (expected) await run('umount', [expected]).catch(() => undefined);
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  for (const format of ['estargz', 'zstdchunked'] as const) {
    test(`${format}: rpull says lazy, the mount equals the unpacked source`, async () => {
      const ref = `${registry.host}/conv/${format}:1`;
      const dst = openRegistry(ref, { plainHttp: true });
      try {
        await convertImage(new LayoutEndpoint(await openLayout(join(work, 'layout')), 'app:1'), dst, { format, oci: true, chunkSize: 1 << 20 });
      } finally {
        await dst.close();
      }
      const root = join(work, `root-${format}`);
      const pulled = await rpullImage(new Context(root), ref, { registry: { plainHttp: true } });
      assert.deepEqual(pulled.layers.map((l) => [l.mode, l.reason]), [['lazy', undefined], ['lazy', undefined]]);
      const mnt = join(work, `mnt-${format}`);
      const mounted = await mountImage(new Context(root), ref, mnt, { registry: { plainHttp: true }, noBackgroundFetch: true });
      try {
        // the builder's tars carry no "./" entry, so the merged root's mode/mtime come from the mount dirs
        assert.deepEqual(diffTrees(await snapshotTree(expected), await snapshotTree(mnt), ['nlink']).filter((d) => !d.startsWith('.:')), []);
        const stats = mounted.layers[0]!.lazy!.stats();
        assert.equal(stats.digestMismatches, 0);
        assert.ok(stats.chunksFetched >= 5, `big.bin in 1 MiB chunks: ${stats.chunksFetched}`);
      } finally {
        await mounted.unmount();
      }
    });
  }
});
