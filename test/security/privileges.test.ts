// Hostile images and containers must give no local user privileges: a setuid-root file or a device node
// in a layer (served lazily over FUSE, unpacked into a snapshot) or written by a container into its upper
// dir (or its rootfs) grants nothing to user nobody on the host; the root's working directories are private (0700) and a
// container's spec, which holds its --env values, is readable by root only. Everything through the real CLI,
// real FUSE/overlayfs mounts, runc and a real registry; the other user is `setpriv --reuid=65534`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { parseMountInfo } from '../../src/host/mountinfo.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { cli } from '../cli/cli-harness.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startCli } from '../runtime/run-fixture.js';
import { asNobody, buildHostileImage, DEV_NODE, gainedRoot, SUID_ID } from './hostile-image.js';

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts, runc, mknod and setpriv' : false;
const NAME = 'test/hostile:1';

/** The mount options (per-mount flags) of every mount at or under `dir`. */
async function mountFlags(dir: string): Promise<{ point: string; options: string[] }[]> {
  const all = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
  return all
    .filter((m) => m.mountPoint === dir || m.mountPoint.startsWith(`${dir}/`))
    .map((m) => ({ point: m.mountPoint, options: m.mountOptions.split(',') }));
}

function assertNosuidNodev(mounts: { point: string; options: string[] }[]): void {
  assert.ok(mounts.length > 0, 'expected mounts to check');
  for (const m of mounts) {
    assert.ok(m.options.includes('nosuid') && m.options.includes('nodev'), `${m.point} is mounted ${m.options.join(',')}: want nosuid,nodev`);
  }
}

describe('hostile images give no local user privileges', { skip }, () => {
  let tmp = '';
  let layout = '';
  let registry: RegistryFixture;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-security-'));
    await chmod(tmp, 0o755); // other users may reach what the tool exposes in here (an image mount point)
    layout = join(tmp, 'layout');
    await buildHostileImage(layout, tmp, NAME);
    registry = await startRegistry();
  });
  after(async () => {
    for (const m of (await mountsUnder(tmp)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await registry?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('the setuid binary of the fixture does give root where nothing prevents it (the check can fail)', async () => {
    const plain = join(tmp, 'plain-suid');
    await execa('cp', ['-p', '/usr/bin/id', plain]);
    await chmod(plain, 0o4755);
    assert.ok(gainedRoot(await asNobody(plain)), 'setuid-root id run by nobody should report euid=0 on a normal filesystem');
  });

  test('lazy image mount: the setuid bit and the device node grant nothing; every mount is nosuid,nodev', async () => {
    const root = join(tmp, 'lazy-root');
    const ref = `${registry.host}/test/hostile:esgz`;
    const conv = await cli(['--root', root, 'image', 'convert', '--estargz', '--oci', `oci:${layout}:${NAME}`, 'hostile-esgz:1']);
    assert.equal(conv.code, 0, conv.stderr);
    const push = await cli(['--root', root, 'image', 'push', '--plain-http', ref, 'hostile-esgz:1']);
    assert.equal(push.code, 0, push.stderr);
    const lazyRoot = join(tmp, 'lazy-root-2');
    const rp = await cli(['--root', lazyRoot, 'image', 'rpull', '--plain-http', ref]);
    assert.equal(rp.code, 0, rp.stderr);
    assert.match(rp.stdout, /2 of 2 layers lazy/);
    const dir = join(tmp, 'mnt');
    await mkdir(dir);
    const m = startCli(['--root', lazyRoot, 'image', 'mount', '--plain-http', ref, dir]);
    try {
      await m.line('mounted');
      const listing = await asNobody('ls', [dir]);
      assert.equal(listing.code, 0, `other users can read an image mount: ${listing.stderr}`);
      const st = await stat(join(dir, SUID_ID));
      assert.equal(st.mode & 0o7777, 0o4755, 'the image content is shown as it is');
      const ran = await asNobody(join(dir, SUID_ID));
      assert.equal(ran.code, 0, `nobody could not run a file of the image mount: ${ran.stderr}`);
      assert.ok(!gainedRoot(ran), `setuid-root file on the lazy mount ran as root: ${ran.stdout}`);
      assert.match(ran.stdout, /^uid=65534/);
      const dev = await asNobody('head', ['-c', '1', join(dir, DEV_NODE)]);
      assert.notEqual(dev.code, 0, 'a device node from a layer opened for nobody');
      assert.match(dev.stderr, /Permission denied/);
      assertNosuidNodev(await mountFlags(dir));
      assertNosuidNodev(await mountFlags(join(lazyRoot, 'mounts')));
    } finally {
      m.proc.kill('SIGTERM');
      await m.done;
    }
  });

  test('unpacked snapshots, a container upper dir and its spec are private to root; the rootfs is nosuid,nodev', async () => {
    const root = join(tmp, 'full-root');
    const tag = await cli(['--root', root, 'image', 'tag', `oci:${layout}:${NAME}`, NAME]);
    assert.equal(tag.code, 0, tag.stderr);
    const id = 'sec-upper-1';
    // The device node may be refused inside (the devices cgroup denies mknod); if it is made, it must be useless outside.
    const script = `cp /${SUID_ID} /made-suid && chmod 4755 /made-suid && (mknod -m 666 /made-dev c 1 3 || true) && echo ready && sleep 60`;
    const c = startCli(['--root', root, 'run', '--snapshotter', 'overlayfs', '--env', 'API_TOKEN=s3cret', NAME, id, 'sh', '-c', script]);
    try {
      await c.line('ready');
      const dir = join(root, 'containers', id);
      assertNosuidNodev(await mountFlags(join(dir, 'rootfs')));
      const bundleSpec = join(dir, 'bundle', 'config.json');
      assert.equal((await stat(bundleSpec)).mode & 0o777, 0o600, 'config.json holds the --env values');
      assert.match(await readFile(bundleSpec, 'utf8'), /API_TOKEN=s3cret/);
      for (const dir of new RootLayout(root).privateDirs) assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} must exist, private`);
      const snap = (await readdir(join(root, 'snapshots'))).find((s) => s.startsWith('sha256-'));
      assert.ok(snap, 'the layers were unpacked');
      const layerSuid = (await readdir(join(root, 'snapshots'))).map((s) => join(root, 'snapshots', s, 'fs', SUID_ID));
      for (const p of layerSuid) {
        const r = await asNobody(p);
        assert.ok(!gainedRoot(r), `setuid file in an unpacked snapshot ran as root: ${p}`);
      }
      for (const p of [join(dir, 'upper', 'made-suid'), join(dir, 'rootfs', 'made-suid')]) {
        const r = await asNobody(p);
        assert.ok(!gainedRoot(r), `setuid file written by the container ran as root from the host: ${p}`);
      }
      for (const p of [join(dir, 'upper', 'made-dev'), join(dir, 'rootfs', 'made-dev')]) {
        assert.notEqual((await asNobody('head', ['-c', '1', p])).code, 0, `nobody opened a device node a container made: ${p}`);
      }
      const spec = await asNobody('cat', [bundleSpec]);
      assert.notEqual(spec.code, 0, 'nobody read the container spec');
      assert.doesNotMatch(spec.stdout, /s3cret/);
      const devs = (await readdir(join(root, 'snapshots'))).map((s) => join(root, 'snapshots', s, 'fs', DEV_NODE));
      for (const p of devs) assert.notEqual((await asNobody('head', ['-c', '1', p])).code, 0, `nobody opened ${p}`);
    } finally {
      c.proc.kill('SIGTERM');
      await c.done;
    }
  });

  test('optimize between two oci: layouts (no store opened) keeps its containers and staging private too', async () => {
    const root = join(tmp, 'optimize-root');
    const r = await cli(['--root', root, 'image', 'optimize', '--oci', '--args', '["/bin/true"]', `oci:${layout}:${NAME}`, `oci:${join(tmp, 'optimized')}:o`]);
    assert.equal(r.code, 0, r.stderr);
    for (const dir of new RootLayout(root).privateDirs) assert.equal((await stat(dir)).mode & 0o777, 0o700, `${dir} must exist, private`);
  });

  test('a root made by an earlier version (0755 working dirs) is tightened by the next command', async () => {
    const root = join(tmp, 'old-root');
    for (const name of ['snapshots', 'containers', 'cache']) await mkdir(join(root, name), { recursive: true, mode: 0o755 });
    await chmod(join(root, 'snapshots'), 0o755);
    const ls = await cli(['--root', root, 'image', 'ls', '-q']);
    assert.equal(ls.code, 0, ls.stderr);
    for (const name of ['snapshots', 'containers', 'cache']) assert.equal((await stat(join(root, name))).mode & 0o777, 0o700, name);
  });
});
