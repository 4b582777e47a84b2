// The CLI's keeper (src/image/lazy/layer-keeper.ts) as a user meets it: `image rpull` as root leaves a
// process that serves the image's lazy layers (their prefetch started), `run` uses its mounts instead of
// mounting its own, `image rm` ends it, and a keeper that died is replaced without a failed run. Real
// registry, real FUSE, real runc; the CLI runs as a process (the keeper is started from its command line).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { KEEPER_ENV, registryAccess, whyNoKeeper } from '../../src/image/lazy/keeper-policy.js';
import { readLazyRecord } from '../../src/image/lazy/lazy-record.js';
import { mountsUnder, readMounts } from '../../src/host/mountinfo.js';
import { FuseManagerClient } from '../../src/service/fuse-manager-client.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { Context } from '../../src/image/context.js';
import { MAIN } from '../cli/cli-harness.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { publishLazyRunImage } from '../runtime/run-fixture.js';

const skip = process.getuid?.() !== 0 ? 'needs root: the keeper mounts FUSE, run mounts overlayfs and starts runc' : false;

/** The CLI as a process with the keeper on (the test runner turns it off for every other test). */
function ctr(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env[KEEPER_ENV];
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // 'exit', not 'close': the keeper it started inherits nothing of ours, but runc's shim may hold a pipe
  return new Promise((resolve) => proc.on('exit', (code) => setImmediate(() => resolve({ code: code ?? 128, stdout, stderr }))));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(50);
  }
}

describe('the keeper: rpull mounts the lazy layers, run uses them, image rm ends it', { skip }, () => {
  let tmp = '';
  let root = '';
  let paths: RootLayout;
  let registry: RegistryFixture | undefined;
  let ref = '';
  let lazyDirs: string[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-keeper-'));
    root = join(tmp, 'root');
    paths = new RootLayout(root);
    registry = await startRegistry();
    ref = await publishLazyRunImage(tmp, root, registry.host); // converted, pushed, rpulled in this process (no keeper)
    const ctx = new Context(root);
    const store = await ctx.store();
    const [named] = await store.list(); // the one image of the root
    assert.ok(named);
    const record = (await readLazyRecord(paths, named.descriptor.digest))!;
    lazyDirs = record.layers.filter((l) => l.mode === 'lazy').map((l) => paths.keptLayerOf(l.digest));
    assert.ok(lazyDirs.length >= 1, 'the test image has lazy layers');
  });
  after(async () => {
    await new FuseManagerClient({ root }).shutdownIfRunning().catch(() => undefined);
    await registry?.stop();
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const fuseMountsUnder = async (dir: string) => (await readMounts()).filter((m) => m.fsType.startsWith('fuse') && m.mountPoint.startsWith(`${dir}/`)).map((m) => m.mountPoint);
  let keeperPid = 0;

  test('image rpull leaves a keeper that serves each lazy layer at the root\'s layers directory', async () => {
    const r = await ctr(['--root', root, 'image', 'rpull', ref]);
    assert.equal(r.code, 0, r.stderr);
    const m = /the keeper \(pid (\d+)\) mounts (\d+) lazy layer/.exec(r.stdout);
    assert.ok(m, r.stdout);
    keeperPid = Number(m[1]);
    assert.equal(Number(m[2]), lazyDirs.length);
    assert.ok(alive(keeperPid), 'the keeper outlives rpull');
    await until('the keeper mounts the layers', async () => (await fuseMountsUnder(paths.keptLayers)).length === lazyDirs.length);
    assert.deepEqual((await fuseMountsUnder(paths.keptLayers)).sort(), [...lazyDirs].sort());
    for (const d of lazyDirs) assert.ok((await statfs(d)).bsize > 0); // answered by a live server
    const st = await ctr(['--root', root, 'image', 'status', ref]);
    assert.match(st.stdout, new RegExp(`served by the keeper \\(pid ${keeperPid}\\): ${lazyDirs.length} lazy layer`), st.stdout);
    // a second rpull of the same image joins the mounts: same keeper, no mount twice
    const again = await ctr(['--root', root, 'image', 'rpull', ref]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`pid ${keeperPid}\\)`));
    assert.equal((await fuseMountsUnder(paths.keptLayers)).length, lazyDirs.length);
  });

  test('run uses the keeper\'s mounts (none of its own) and leaves them for the next run', async () => {
    assert.ok(keeperPid > 0, 'needs the rpull test');
    const run = ctr(['--root', root, 'run', '--rm', ref, 'k1', 'sh', '-c', 'cat /etc/motd /srv/data.txt; sleep 2']);
    const container = join(root, 'containers', 'k1');
    // while the container runs: its rootfs is mounted, and nothing under its directory is a FUSE mount
    await until('the container rootfs', async () => (await mountsUnder(container)).length > 0);
    assert.deepEqual(await fuseMountsUnder(container), []);
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from the image\ndata v1\n');
    assert.doesNotMatch(r.stderr, /warning/);
    assert.ok(alive(keeperPid));
    assert.equal((await fuseMountsUnder(paths.keptLayers)).length, lazyDirs.length);
    assert.deepEqual(await mountsUnder(container), []);
  });

  test('image rm lets the keeper go of the layers no image names any more: it unmounts them and ends', async () => {
    assert.ok(keeperPid > 0, 'needs the rpull test');
    // another name for the same manifest keeps the layers needed
    const tagged = await ctr(['--root', root, 'image', 'tag', ref, 'keeper/other:1']);
    assert.equal(tagged.code, 0, tagged.stderr);
    const first = await ctr(['--root', root, 'image', 'rm', ref]);
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /keeper/);
    assert.ok(alive(keeperPid));
    assert.equal((await fuseMountsUnder(paths.keptLayers)).length, lazyDirs.length);
    const r = await ctr(['--root', root, 'image', 'rm', 'keeper/other:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`the keeper let go of ${lazyDirs.length} lazy layer\\(s\\) and ended`));
    await until('the keeper ends', () => !alive(keeperPid));
    assert.deepEqual(await fuseMountsUnder(paths.keptLayers), []);
  });

  test('a keeper that died: run serves the layers itself, the next rpull starts a new keeper', async () => {
    const first = await ctr(['--root', root, 'image', 'rpull', ref]);
    assert.equal(first.code, 0, first.stderr);
    const dead = Number(/pid (\d+)/.exec(first.stdout)?.[1]);
    process.kill(dead, 'SIGKILL');
    await until('the keeper is dead', () => !alive(dead));
    const r = await ctr(['--root', root, 'run', '--rm', ref, 'k2', 'cat', '/etc/motd']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello from the image\n');
    const next = await ctr(['--root', root, 'image', 'rpull', ref]);
    assert.equal(next.code, 0, next.stderr);
    const pid = Number(/the keeper \(pid (\d+)\)/.exec(next.stdout)?.[1]);
    assert.ok(pid > 0 && pid !== dead && alive(pid), next.stdout);
    // the dead mounts are detached and the layers served again (statfs reaches the server; a dead one is ENOTCONN)
    const served = async () => (await fuseMountsUnder(paths.keptLayers)).length === lazyDirs.length
      && (await Promise.all(lazyDirs.map((d) => statfs(d).then(() => true, () => false)))).every(Boolean);
    await until('the new keeper serves the layers', served);
    const again = await ctr(['--root', root, 'run', '--rm', ref, 'k3', 'cat', '/srv/data.txt']);
    assert.equal(again.stdout, 'data v1\n', again.stderr);
  });
});

describe('which commands the keeper serves', () => {
  test('not with a password or token on the command line, nor with options of the command\'s own serving', { skip: process.getuid?.() !== 0 ? 'the keeper is for root only' : false }, () => {
    assert.equal(whyNoKeeper({}, {}), undefined);
    assert.equal(whyNoKeeper({ registry: { plainHttp: true, tlsCaCert: '/ca.pem' } }, {}), undefined);
    assert.match(whyNoKeeper({ registry: { username: 'u', password: 'p' } }, {}) ?? '', /credentials/);
    assert.match(whyNoKeeper({ registry: { refreshToken: 't' } }, {}) ?? '', /credentials/);
    assert.match(whyNoKeeper({ noBackgroundFetch: true }, {}) ?? '', /options/);
    assert.match(whyNoKeeper({ onAccess: () => undefined }, {}) ?? '', /options/);
    assert.match(whyNoKeeper({}, { [KEEPER_ENV]: 'off' }) ?? '', /CTR_REMOTE_KEEPER=off/);
  });

  test('only switches and files travel to the keeper, the files as absolute paths (it runs from another directory)', () => {
    assert.deepEqual(
      registryAccess({ plainHttp: true, skipVerify: false, username: 'u', password: 'secret', tlsCaCert: '/ca.pem', tlsCert: 'certs/c.pem', readTimeoutMs: 5000 }, { kind: 'docker-config', dir: '/home/u/.docker' }),
      { plainHttp: true, tlsCaCert: '/ca.pem', tlsCert: join(process.cwd(), 'certs/c.pem'), dockerConfigDir: '/home/u/.docker', readTimeoutMs: 5000 },
    );
  });
});

describe('starting the fuse manager (the keeper\'s program)', () => {
  test('a manager that exits before it answers fails the start at once, naming how it exited (not after the 30 s deadline)', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'ctr-keeper-start-'));
    try {
      const client = new FuseManagerClient({ root: tmp }, { argv: [process.execPath, '-e', 'process.exit(3)', '--'] });
      await assert.rejects(client.connect(), (e: Error) => /fuse manager exited 3 before it answered/.test(e.message));
      // a client of a running manager only never starts one
      const passive = new FuseManagerClient({ root: tmp }, { argv: [process.execPath, '-e', 'process.exit(4)', '--'], start: false });
      await assert.rejects(passive.connect(), (e: Error) => /no fuse manager answers/.test(e.message));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
