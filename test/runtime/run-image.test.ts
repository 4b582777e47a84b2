// `run` end to end: a busybox image built by the test, imported into the store (full pull path) or
// converted to eStargz, pushed to a real registry and rpulled (lazy path), run with real runc through
// the CLI as a child process (exit codes, signals) and through runContainer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isCtrError } from '../../src/errors.js';
import { convertImage } from '../../src/image/convert.js';
import { openLocation, parseLocation } from '../../src/image/location.js';
import { rpullImage } from '../../src/image/rpull.js';
import { runContainer } from '../../src/image/run.js';
import { tagImage } from '../../src/image/tag-image.js';
import { runcStateDir } from '../../src/runtime/container-paths.js';
import { mountsUnder } from '../../src/runtime/mountinfo.js';
import { runcList } from '../../src/runtime/runc.js';
import { MAIN } from '../cli/cli-harness.js';
import { buildImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';

const skip = process.getuid?.() !== 0 ? 'needs root: overlayfs and FUSE mounts, runc containers' : false;
const FULL = 'test/run-busybox:1';

describe('run an image', { skip }, () => {
  let tmp = '';
  let root = '';
  let registry: RegistryFixture | undefined;
  let lazyRef = '';
  let layout = '';

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-run-'));
    root = join(tmp, 'root');
    layout = join(tmp, 'layout');
    await buildImage(layout, FULL, {
      layers: [
        { busybox: true },
        {
          entries: [
            { path: 'etc/passwd', type: 'file', content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n' },
            { path: 'etc/group', type: 'file', content: 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n' },
            { path: 'etc/motd', type: 'file', content: 'hello from the image\n' },
            { path: 'srv/data.txt', type: 'file', content: 'data v1\n' },
            { path: 'tmp', type: 'dir', mode: 0o1777 },
            { path: 'home/app', type: 'dir' },
          ],
        },
      ],
      config: { Env: ['PATH=/bin', 'FROM_IMAGE=yes'], Cmd: ['cat', '/etc/motd'], WorkingDir: '/srv' },
    });
    await tagImage(root, `oci:${layout}:${FULL}`, FULL);
  });
  after(async () => {
    await registry?.stop();
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const ctr = (args: string[]) => startCli(['--root', root, ...args]);

  test('full pull: output of the image command, exit codes 0 and non-zero become ours', async () => {
    const ok = await ctr(['run', '--rm', FULL, 'full1']).done;
    assert.deepEqual([ok.code, ok.stdout], [0, 'hello from the image\n'], ok.stderr);
    const bad = await ctr(['run', '--rm', FULL, 'full2', 'sh', '-c', 'echo out; echo err >&2; exit 5']).done;
    assert.deepEqual([bad.code, bad.stdout, bad.stderr], [5, 'out\n', 'err\n']);
    const snaps = await readdir(join(root, 'snapshots'));
    assert.equal(snaps.filter((s) => s.startsWith('sha256-')).length, 2, 'each layer unpacked once');
  });

  test('env, env-file, cwd, user from the image passwd and a bind mount reach the process', async () => {
    const host = join(tmp, 'host-dir');
    await mkdir(host, { recursive: true });
    await writeFile(join(host, 'in.txt'), 'from host\n');
    const envFile = join(tmp, 'vars.env');
    await writeFile(envFile, '# comment\nFROM_FILE=f\nFROM_IMAGE=overridden\n');
    const r = await ctr([
      'run', '--rm', '--env', 'A=1', '--env-file', envFile, '--cwd', '/tmp', '--user', 'app',
      '--mount', `type=bind,source=${host},destination=/data,options=ro:rbind`,
      FULL, 'full3', 'sh', '-c', 'echo "$A $FROM_FILE $FROM_IMAGE"; pwd; id -u; id -G; cat /data/in.txt; touch /data/x 2>/dev/null || echo read-only',
    ]).done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1 f overridden\n/tmp\n1000\n1000 2000\nfrom host\nread-only\n');
    const ghost = await ctr(['run', '--rm', '--user', 'ghost', FULL, 'full4', 'true']).done;
    assert.equal(ghost.code, 1);
    assert.match(ghost.stderr, /user "ghost": not in the image's \/etc\/passwd/);
  });

  test('writes go to the upper dir, the snapshots stay unchanged; --rm leaves nothing', async () => {
    const before = await treeHash(join(root, 'snapshots'));
    const kept = await ctr(['run', FULL, 'keep1', 'sh', '-c', 'echo changed > /srv/data.txt; rm /etc/motd; echo new > /new']).done;
    assert.equal(kept.code, 0, kept.stderr);
    assert.equal(await treeHash(join(root, 'snapshots')), before);
    const upper = join(root, 'containers/keep1/upper');
    assert.equal(await readFile(join(upper, 'srv/data.txt'), 'utf8'), 'changed\n');
    assert.equal(await readFile(join(upper, 'new'), 'utf8'), 'new\n');
    assert.deepEqual(await mountsUnder(join(root, 'containers')), [], 'a stopped container is unmounted');
    const again = await ctr(['run', FULL, 'keep1', 'true']).done;
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    await rm(join(root, 'containers/keep1'), { recursive: true });

    const gone = await ctr(['run', '--rm', FULL, 'rm1', 'sh', '-c', 'echo x > /x']).done;
    assert.equal(gone.code, 0, gone.stderr);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await mountsUnder(root), []);
    assert.deepEqual(await runcList(runcStateDir(root)), []);
  });

  test('no network but loopback without --net-host', async () => {
    const r = await ctr(['run', '--rm', FULL, 'net1', 'sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]).done;
    assert.deepEqual([r.code, r.stdout], [0, 'lo\n'], r.stderr);
  });

  test('SIGTERM to ctr-remote is forwarded; the container\'s exit code becomes ours', async () => {
    const c = ctr(['run', '--rm', FULL, 'sig1', 'sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done']);
    await c.line('ready');
    c.proc.kill('SIGTERM');
    const r = await c.done;
    assert.equal(r.code, 42, r.stderr);
    assert.match(r.stdout, /got-term/);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  test('a killed run is cleaned by the next run', async () => {
    const c = ctr(['run', '--rm', FULL, 'killed1', 'sh', '-c', 'echo ready; exec sleep 1000']);
    await c.line('ready');
    c.proc.kill('SIGKILL');
    await c.exited;
    assert.ok((await mountsUnder(join(root, 'containers/killed1'))).length > 0, 'the killed run left its mounts');
    const next = await ctr(['run', '--rm', FULL, 'next1', 'true']).done;
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await mountsUnder(join(root, 'containers')), []);
    assert.deepEqual(await runcList(runcStateDir(root)), []);
  });

  test('a missing image and a bad id are clear errors', async () => {
    const r = await ctr(['run', '--rm', 'test/nope:1', 'x1', 'true']).done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not in the store/);
    const bad = await ctr(['run', '--rm', FULL, 'bad/id', 'true']).done;
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid container ID/);
  });

  describe('lazily pulled', () => {
    before(async () => {
      registry = await startRegistry();
      lazyRef = `${registry.host}/test/run-busybox:esgz`;
      const src = await openLocation(parseLocation(`oci:${layout}:${FULL}`), 'store', { root });
      const dst = await openLocation(parseLocation(lazyRef), 'registry', { root });
      try {
        await convertImage(src.endpoint, dst.endpoint, { format: 'estargz', oci: true });
      } finally {
        await dst.close();
        await src.close();
      }
      await rpullImage(root, lazyRef);
    });

    test('lazy: an rpulled image runs on the stargz snapshotter (FUSE layers), as a non-root user too', async () => {
      const snapsBefore = (await readdir(join(root, 'snapshots'))).sort();
      const r = await runContainer(root, lazyRef, 'lazy1', {
        remove: true,
        user: 'app',
        args: ['sh', '-c', 'cat /srv/data.txt; id -u; exit 3'],
        stdout: 'pipe',
        stderr: 'pipe',
      });
      assert.deepEqual([r.exitCode, r.stdout, r.snapshotter], [3, 'data v1\n1000\n', 'stargz'], r.stderr);
      assert.deepEqual((await readdir(join(root, 'snapshots'))).sort(), snapsBefore, 'lazy layers are not unpacked');
      assert.deepEqual(await readdir(join(root, 'containers')), []);
      assert.deepEqual(await mountsUnder(root), []);
      const cli = await ctr(['run', '--rm', lazyRef, 'lazy2']).done;
      assert.deepEqual([cli.code, cli.stdout], [0, 'hello from the image\n'], cli.stderr);
    });

    test('--snapshotter overlayfs on an rpulled image says what is missing', async () => {
      await assert.rejects(
        runContainer(root, lazyRef, 'lazy3', { snapshotter: 'overlayfs', args: ['true'] }),
        (e) => isCtrError(e, 'InvalidArgument') && /rpulled.*--snapshotter stargz/.test(e.message),
      );
    });
  });

  test('without root: one clear sentence', async () => {
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', MAIN, '--root', join(tmp, 'nobody'), 'run', FULL, 'x', 'true'], {
      reject: false,
      cwd: process.cwd(),
      env: { ...process.env, HOME: tmp },
    });
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /run needs root/);
  });
});

/** The CLI as a child process. `exited` resolves on exit (an orphaned runc may hold the pipes); `done` once the pipes close too. */
function startCli(args: string[]) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => proc.on('exit', (code, sig) => resolve(code ?? 128)));
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    proc.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })),
  );
  const line = async (text: string): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!stdout.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" within 30 s (stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)})`);
      await sleep(50);
    }
  };
  return { proc, exited, done, line };
}

/** A hash over every path, mode, size and file content under `dir`. */
async function treeHash(dir: string): Promise<string> {
  const { stdout } = await execa('sh', ['-c', `cd ${dir} && find . -printf '%p %m %s %l\\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum`]);
  return createHash('sha256').update(stdout).digest('hex');
}
