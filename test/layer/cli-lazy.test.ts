// The lazy-pulling CLI as a user runs it: image rpull / mount (foreground process) / status / unmount,
// Ctrl-C, a killed server cleaned up by the next command, and the non-root message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { Annotation } from '../../src/oci/media-types.js';
import { MAIN, cliProcess, nobodyCannotRunCli, spawnCli } from '../cli/cli-harness.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { setWholeSecondTimes } from '../fs/fixture-tree.js';
import { buildReferenceBlob } from './reference-estargz.js';
import { pushImage } from './push-image.js';

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root: image mount uses FUSE and overlayfs' : false;

/** Start `image mount` and wait for its "mounted" line. */
async function startMount(args: string[]): Promise<{ child: ChildProcess; out: () => string; exited: Promise<number> }> {
  const child = spawnCli(args);
  let out = '';
  child.stdout!.on('data', (c) => (out += String(c)));
  child.stderr!.on('data', (c) => (out += String(c)));
  const exited = new Promise<number>((r) => child.on('close', (c, sig) => r(c ?? (sig ? 128 : -1))));
  const deadline = Date.now() + 30_000;
  while (!/mounted .* at /.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`mount did not come up: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, out: () => out, exited };
}

const isMounted = async (dir: string) => (await readFile('/proc/self/mountinfo', 'utf8')).includes(` ${dir} `);

describe('ctr-remote image rpull/mount/status/unmount', { skip }, () => {
  let work: string;
  let registry: RegistryFixture;
  let ref: string;
  let root: string;
  let mnt: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-clilazy-'));
    registry = await startRegistry();
    const tree = join(work, 'tree');
    await mkdir(join(tree, 'etc'), { recursive: true });
    await writeFile(join(tree, 'etc/motd'), 'hello from a lazy layer\n');
    await setWholeSecondTimes(tree);
    const blob = await buildReferenceBlob(tree);
    const tar = Buffer.from(await run('tar', ['-C', tree, '-cf', '-', '.'], { encoding: 'buffer', maxBuffer: 1 << 24 }).then((r) => r.stdout));
    ref = `${registry.host}/cli/lazy:1`;
    await pushImage(ref, [
      { blob: blob.blob, diffId: blob.diffId, annotations: { [Annotation.TocDigest]: blob.tocDigest } },
      { blob: gzipSync(tar), diffId: `sha256:${createHash('sha256').update(tar).digest('hex')}` },
    ]);
    root = join(work, 'root');
    mnt = join(work, 'mnt');
  });

  after(async () => {
    if (mnt && (await isMounted(mnt))) await cliProcess(['--root', root, 'image', 'unmount', mnt]);
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('rpull prints one line per layer: lazy, or full with the reason', async () => {
    const r = await cliProcess(['--root', root, 'image', 'rpull', '--plain-http', ref]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /layer 0 sha256:\w+ .*: lazy \(eStargz, TOC verified\)/);
    assert.match(r.stdout, /layer 1 sha256:\w+ .*: full: no containerd\.io\/snapshot\/stargz\/toc\.digest annotation \(not eStargz\)/);
    assert.match(r.stdout, /1 of 2 layers lazy/);
  });

  test('mount stays in the foreground; status reports it; unmount from another process ends it', async () => {
    const m = await startMount(['--root', root, 'image', 'mount', '--plain-http', ref, mnt]);
    assert.equal(await readFile(join(mnt, 'etc/motd'), 'utf8'), 'hello from a lazy layer\n');
    const st = await cliProcess(['--root', root, 'image', 'status', ref]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, new RegExp(`mounted at ${mnt}`));
    assert.match(st.stdout, /0\s+sha256:\w+\s+lazy/);
    assert.match(st.stdout, /1\s+sha256:\w+\s+full\s+all/);
    const u = await cliProcess(['--root', root, 'image', 'unmount', mnt]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await m.exited, 0, `an unmount by the user is a normal end: ${m.out()}`);
    assert.equal(await isMounted(mnt), false);
  });

  test('an image with no lazy layers (fully pulled) mounts its unpacked layers and stays until unmounted', async () => {
    const fullRoot = join(work, 'full-root');
    const pulled = await cliProcess(['--root', fullRoot, 'image', 'pull', '--plain-http', ref]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const dir = join(work, 'full-mnt');
    const m = await startMount(['--root', fullRoot, 'image', 'mount', ref, dir]);
    assert.match(m.out(), /\(0 of 2 layers lazy\)/);
    await new Promise((r) => setTimeout(r, 1000)); // nothing of ours serves it: the process must not just end
    assert.equal(m.child.exitCode, null, `the mount process ended: ${m.out()}`);
    assert.equal(await readFile(join(dir, 'etc/motd'), 'utf8'), 'hello from a lazy layer\n');
    const u = await cliProcess(['--root', fullRoot, 'image', 'unmount', dir]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await m.exited, 0, m.out());
    assert.equal(await isMounted(dir), false);
    assert.equal((await readdir(join(fullRoot, 'mounts'))).length, 0, 'no mount record left');
  });

  test('Ctrl-C (SIGINT) unmounts and exits', async () => {
    const m = await startMount(['--root', root, 'image', 'mount', '--plain-http', ref, mnt]);
    m.child.kill('SIGINT');
    const code = await m.exited;
    assert.equal(code, 130, `interrupted: ${m.out()}`);
    assert.equal(await isMounted(mnt), false);
    const { stdout } = await run('cat', ['/proc/self/mountinfo']);
    assert.ok(!stdout.includes(join(root, 'mounts')), 'no layer mount left');
  });

  test('a killed server leaves mounts that the next unmount cleans up', async () => {
    const m = await startMount(['--root', root, 'image', 'mount', '--plain-http', ref, mnt]);
    m.child.kill('SIGKILL');
    await m.exited;
    const u = await cliProcess(['--root', root, 'image', 'unmount', mnt]);
    assert.equal(u.code, 0, u.stderr);
    assert.equal(await isMounted(mnt), false);
    const { stdout } = await run('cat', ['/proc/self/mountinfo']);
    assert.ok(!stdout.includes(join(root, 'mounts')), 'no stale layer mount left');
  });

  test('without root, image mount says so in one line', { skip: nobodyCannotRunCli }, async () => {
    const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', MAIN, '--root', join(work, 'nobody'), 'image', 'mount', ref, join(work, 'nomnt')], {
      cwd: new URL('../..', import.meta.url).pathname, env: { ...process.env, HOME: work },
    }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `ctr-remote: mount ${ref}: image mount needs root (FUSE mounts and overlayfs)`);
  });

  test('unmount of something that is not our mount is a clear error', async () => {
    const r = await cliProcess(['--root', root, 'image', 'unmount', work]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no ctr-remote image mount at/);
  });
});
