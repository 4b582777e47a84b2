// `run` on a lazily pulled image: the test image converted to eStargz, pushed to a real registry,
// rpulled, and run on the stargz snapshotter (one FUSE mount per lazy layer, served by ctr-remote).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { isCtrError } from '../../src/errors.js';
import { runContainer } from '../../src/image/run.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { runcList } from '../../src/runtime/runc.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { publishLazyRunImage, startCli } from './run-fixture.js';
import { Context } from '../../src/image/context.js';
import { RootLayout } from '../../src/store/root-layout.js';

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts, runc containers' : false;

describe('run a lazily pulled image', { skip }, () => {
  let tmp = '';
  let root = '';
  let registry: RegistryFixture | undefined;
  let ref = '';

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-run-lazy-'));
    root = join(tmp, 'root');
    registry = await startRegistry();
    ref = await publishLazyRunImage(tmp, root, registry.host);
  });
  after(async () => {
    await registry?.stop();
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const nothingLeft = async () => {
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await mountsUnder(root), []);
    assert.deepEqual(await runcList(new RootLayout(root).runc), []);
  };

  test('runs on the stargz snapshotter by default, as a non-root user too; nothing is unpacked', async () => {
    const r = await runContainer(new Context(root), ref, 'lazy1', {
      remove: true,
      user: 'app',
      args: ['sh', '-c', 'cat /srv/data.txt; id -u; echo w > /tmp/w; exit 3'],
      stdout: 'pipe',
      stderr: 'pipe',
    });
    assert.deepEqual([r.exitCode, r.stdout, r.snapshotter], [3, 'data v1\n1000\n', 'stargz'], r.stderr);
    assert.deepEqual(await readdir(join(root, 'snapshots')).catch(() => []), [], 'lazy layers are not unpacked');
    await nothingLeft();
  });

  test('a killed lazy run (its FUSE server died with it) is cleaned by the next run', async () => {
    const c = startCli(['--root', root, 'run', '--rm', ref, 'lazykill', 'sh', '-c', 'cat /srv/data.txt; echo ready; exec sleep 1000']);
    await c.line('ready');
    c.proc.kill('SIGKILL');
    await c.exited;
    assert.ok((await mountsUnder(join(root, 'containers/lazykill'))).length >= 3, 'overlay and FUSE layer mounts were left');
    const next = await runContainer(new Context(root), ref, 'lazynext', { remove: true, args: ['cat', '/etc/motd'], stdout: 'pipe' });
    assert.deepEqual([next.exitCode, next.stdout], [0, 'hello from the image\n']);
    await nothingLeft();
  });

  test('--snapshotter overlayfs on an rpulled image says what is missing', async () => {
    await assert.rejects(
      runContainer(new Context(root), ref, 'lazy3', { snapshotter: 'overlayfs', args: ['true'] }),
      (e) => isCtrError(e, 'InvalidArgument') && /rpulled.*--snapshotter stargz/.test(e.message),
    );
    await nothingLeft();
  });
});
