// Unpacked snapshots (`<root>/snapshots/sha256-*`) follow the images that use them: `image rm` removes the
// snapshots it made unreferenced, `image prune` the rest; a snapshot a running container uses stays, also
// when its `run` was SIGKILLed and the container still runs. A corrupt layer blob fails `run` with one
// line and leaves no half-unpacked snapshot. Real overlayfs and runc.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { PruneResult } from '../../src/image/copy/prune.js';
import type { RemoveResult } from '../../src/image/copy/remove-images.js';
import { tagImage } from '../../src/image/copy/tag-image.js';
import { cleanupStaleContainers } from '../../src/runtime/cleanup.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { cli } from '../cli/cli-harness.js';
import type { BuiltImage } from '../fixtures/image-builder.js';
import { buildImage } from '../fixtures/image-builder.js';
import { buildRunImage, FULL, startCli } from './run-fixture.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { Context } from '../../src/image/context.js';

const skip = process.getuid?.() !== 0 ? 'needs root: overlayfs mounts and runc containers' : false;

describe('snapshot garbage collection', { skip }, () => {
  let tmp = '';
  let layout = '';
  let roots = 0;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-snapshot-gc-'));
    layout = join(tmp, 'layout');
    await buildRunImage(layout);
  });
  after(async () => {
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const freshRoot = async () => {
    const root = join(tmp, `root-${roots++}`);
    await tagImage(new Context(root), `oci:${layout}:${FULL}`, FULL);
    return root;
  };
  const snapshots = async (root: string) => (await readdir(join(root, 'snapshots')).catch(() => [] as string[])).filter((n) => n.startsWith('sha256-'));
  const json = async <T>(root: string, args: string[]): Promise<T> => {
    const r = await cli(['--root', root, ...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as T;
  };

  test('image rm removes the snapshots of the image it removed; a second image sharing a layer keeps that one', async () => {
    const root = await freshRoot();
    const other = await buildImage(layout, 'h9s-other', { layers: [{ busybox: true }, { entries: [{ path: 'other', type: 'file', content: 'x' }] }] });
    await tagImage(new Context(root), `oci:${layout}:h9s-other`, 'h9s/other:1');
    const a = await startCli(['--root', root, 'run', '--rm', FULL, 'h9s-gc-a', 'true']).done;
    assert.equal(a.code, 0, a.stderr);
    const b = await startCli(['--root', root, 'run', '--rm', 'h9s/other:1', 'h9s-gc-b', 'true']).done;
    assert.equal(b.code, 0, b.stderr);
    assert.equal((await snapshots(root)).length, 3, 'busybox shared, plus one layer each');
    const r = await json<RemoveResult>(root, ['image', 'rm', FULL]);
    assert.deepEqual((await snapshots(root)).sort(), other.layers.map((l: BuiltImage['layers'][number]) => `sha256-${l.digest.slice(7)}`).sort());
    assert.equal(r.snapshots.removed.length, 1);
    assert.ok(r.snapshots.removed[0]!.bytes > 0);
    const human = await cli(['--root', root, 'image', 'rm', 'h9s/other:1']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stderr, /^freed .* \(2 unpacked snapshots\)$/m);
    assert.deepEqual(await snapshots(root), []);
  });

  test('a running container keeps its snapshots through rm and prune, also after its run was SIGKILLed; once it is cleaned up, prune frees them', async () => {
    const root = await freshRoot();
    const run = startCli(['--root', root, 'run', '--rm', FULL, 'h9s-gc-live', 'sh', '-c', 'echo ready; sleep 60']);
    try {
      await run.line('ready');
      const rmResult = await json<RemoveResult>(root, ['image', 'rm', FULL]);
      assert.deepEqual(rmResult.snapshots.removed, []);
      assert.equal(rmResult.snapshots.inUse.length, 2);
      for (const k of rmResult.snapshots.inUse) assert.ok(k.usedBy.includes(`pid ${run.proc.pid}`) && k.usedBy.includes('container h9s-gc-live'), JSON.stringify(k));
      run.proc.kill('SIGKILL');
      await run.exited;
      const p = await json<PruneResult>(root, ['image', 'prune']);
      assert.deepEqual(p.snapshots.removed, [], 'the container still runs on them');
      assert.deepEqual(p.snapshots.inUse.map((k) => k.usedBy), [['container h9s-gc-live'], ['container h9s-gc-live']]);
      assert.equal((await snapshots(root)).length, 2);
    } finally {
      run.proc.kill('SIGKILL');
      await cleanupStaleContainers(new RootLayout(root));
    }
    const p = await json<PruneResult>(root, ['image', 'prune']);
    assert.equal(p.snapshots.removed.length, 2);
    assert.ok(p.snapshots.bytes > 1_000_000, 'busybox is over 1 MB');
    assert.deepEqual(await snapshots(root), []);
  });

  test('run of an image whose layer blob has a flipped byte: one line, exit 1, no half-unpacked snapshot or container left', async () => {
    const root = await freshRoot();
    const blobs = join(root, 'store', 'blobs', 'sha256');
    const sized = await Promise.all((await readdir(blobs)).map(async (h) => ({ path: join(blobs, h), size: (await stat(join(blobs, h))).size })));
    const biggest = sized.sort((x, y) => y.size - x.size)[0]!.path; // the busybox layer
    const fh = await open(biggest, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 4000);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, 4000);
    await fh.close();
    const r = await startCli(['--root', root, 'run', '--rm', FULL, 'h9s-gc-corrupt', 'true']).done;
    assert.equal(r.code, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /Unhandled|^\s+at /m);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^ctr-remote: run .*sha256:${biggest.split('/').pop()} has wrong content`));
    assert.deepEqual((await readdir(join(root, 'snapshots'))).filter((n) => n.startsWith('tmp-') || n === `sha256-${biggest.split('/').pop()}`), []);
    assert.deepEqual(await readdir(join(root, 'containers')).catch(() => []), []);
  });
});
