// `run` end to end on the full-pull path: a busybox image built by the test, imported into the store,
// run with real runc on layers unpacked once into snapshots. Exit codes, signals, -t/-i and a killed
// run go through the CLI as a child process; the rest through the CLI in-process or runContainer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { runContainer } from '../../src/image/run.js';
import { tagImage } from '../../src/image/copy/tag-image.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { runcList } from '../../src/runtime/runc.js';
import { cli, MAIN, nobodyCannotRunCli } from '../cli/cli-harness.js';
import { buildRunImage, FULL, startCli, treeHash } from './run-fixture.js';
import { Context } from '../../src/image/context.js';
import { RootLayout } from '../../src/store/root-layout.js';

const skip = process.getuid?.() !== 0 ? 'needs root: overlayfs mounts and runc containers' : false;

describe('run a fully pulled image', { skip }, () => {
  let tmp = '';
  let root = '';
  let layout = '';

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-run-'));
    root = join(tmp, 'root');
    layout = join(tmp, 'layout');
    await buildRunImage(layout);
    await tagImage(new Context(root), `oci:${layout}:${FULL}`, FULL);
  });
  after(async () => {
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const ctr = (args: string[]) => startCli(['--root', root, ...args]);
  const inProcess = (args: string[]) => cli(['--root', root, ...args]);
  const nothingLeft = async () => {
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await mountsUnder(root), []);
    assert.deepEqual(await runcList(new RootLayout(root).runc), []);
  };

  test('output of the image command; exit codes 0 and non-zero become ours; layers unpacked once', async () => {
    const ok = await ctr(['run', '--rm', FULL, 'full1']).done;
    assert.deepEqual([ok.code, ok.stdout], [0, 'hello from the image\n'], ok.stderr);
    const bad = await ctr(['run', '--rm', FULL, 'full2', 'sh', '-c', 'echo out; echo err >&2; exit 5']).done;
    assert.deepEqual([bad.code, bad.stdout, bad.stderr], [5, 'out\n', 'err\n']);
    const snaps = await readdir(join(root, 'snapshots'));
    assert.equal(snaps.filter((s) => s.startsWith('sha256-')).length, 2);
  });

  test('options after REF belong to the container command (as with ctr run); run and global options go before it', async () => {
    const r = await ctr(['run', '--rm', FULL, 'opts1', 'sh', '-c', 'echo "$@"', 'sh', '-t', '--rm', '-i', '--debug', '--root', '/x', '--help']).done;
    assert.deepEqual([r.code, r.stdout], [0, '-t --rm -i --debug --root /x --help\n'], r.stderr);
    const ls = await ctr(['run', '--rm', FULL, 'opts2', 'ls', '-a', '-d', '/']).done;
    assert.deepEqual([ls.code, ls.stdout], [0, '/\n'], ls.stderr);
    const dashes = await ctr(['run', '--rm', FULL, 'opts4', '--', 'echo', '-n', 'x']).done;
    assert.deepEqual([dashes.code, dashes.stdout], [0, 'x'], dashes.stderr);
    const before = await startCli(['run', '--root', root, '--rm', '--debug', FULL, 'opts3', 'true']).done;
    assert.equal(before.code, 0, before.stderr);
    await nothingLeft();
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
    const ghost = await inProcess(['run', '--rm', '--user', 'ghost', FULL, 'full4', 'true']);
    assert.equal(ghost.code, 1);
    assert.equal(ghost.stderr, 'ctr-remote: run full4: user "ghost": not in the image\'s /etc/passwd\n');
  });

  test('writes go to the upper dir, the snapshots stay unchanged; --rm leaves nothing', async () => {
    const before = await treeHash(join(root, 'snapshots'));
    const kept = await runContainer(new Context(root), FULL, 'keep1', { args: ['sh', '-c', 'echo changed > /srv/data.txt; rm /etc/motd; echo new > /new'] });
    assert.equal(kept.exitCode, 0);
    assert.equal(await treeHash(join(root, 'snapshots')), before);
    const upper = join(root, 'containers/keep1/upper');
    assert.equal(await readFile(join(upper, 'srv/data.txt'), 'utf8'), 'changed\n');
    assert.equal(await readFile(join(upper, 'new'), 'utf8'), 'new\n');
    assert.deepEqual(await mountsUnder(join(root, 'containers')), [], 'a stopped container is unmounted');
    const again = await inProcess(['run', FULL, 'keep1', 'true']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /container "keep1" already exists/);
    await rm(join(root, 'containers/keep1'), { recursive: true });
    const gone = await inProcess(['run', '--rm', FULL, 'rm1', 'sh', '-c', 'echo x > /x']);
    assert.equal(gone.code, 0, gone.stderr);
    await nothingLeft();
  });

  test('-i attaches stdin (without it the container reads nothing); -t gives a terminal', async () => {
    const piped = (args: string[]) => execa(process.execPath, ['--import', 'tsx', MAIN, '--root', root, ...args], { input: 'typed input\n', reject: false });
    const withI = await piped(['run', '--rm', '-i', FULL, 'in1', 'cat']);
    assert.deepEqual([withI.exitCode, withI.stdout], [0, 'typed input'], withI.stderr);
    const without = await runContainer(new Context(root), FULL, 'in2', { remove: true, args: ['cat'], stdout: 'pipe' });
    assert.deepEqual([without.exitCode, without.stdout], [0, '']);
    const cmd = `${process.execPath} --import tsx ${MAIN} --root ${root} run --rm -t ${FULL} tty1 sh -c 'tty; exit 4'`;
    const tty = await execa('script', ['-qec', cmd, '/dev/null'], { reject: false, stdin: 'ignore' });
    assert.match(tty.stdout, /\/dev\/pts\/\d+/);
    assert.equal(tty.exitCode, 4, tty.stdout);
    const noTty = await inProcess(['run', '--rm', '-t', FULL, 'tty2', 'true']);
    assert.equal(noTty.code, 1);
    assert.match(noTty.stderr, /-t needs a terminal/);
  });

  test('no network but loopback without --net-host', async () => {
    const r = await runContainer(new Context(root), FULL, 'net1', { remove: true, args: ['sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"], stdout: 'pipe' });
    assert.deepEqual([r.exitCode, r.stdout], [0, 'lo\n']);
  });

  test('SIGTERM to ctr-remote is forwarded; the container\'s exit code becomes ours', async () => {
    const c = ctr(['run', '--rm', FULL, 'sig1', 'sh', '-c', 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.1; done']);
    await c.line('ready');
    c.proc.kill('SIGTERM');
    const r = await c.done;
    assert.equal(r.code, 42, r.stderr);
    assert.match(r.stdout, /got-term/);
    await nothingLeft();
  });

  test('a killed run is cleaned by the next run', async () => {
    const c = ctr(['run', '--rm', FULL, 'killed1', 'sh', '-c', 'echo ready; exec sleep 1000']);
    await c.line('ready');
    c.proc.kill('SIGKILL');
    await c.exited;
    assert.ok((await mountsUnder(join(root, 'containers/killed1'))).length > 0, 'the killed run left its mounts');
    assert.equal((await runcList(new RootLayout(root).runc))[0]?.status, 'running', 'and its container');
    const next = await inProcess(['run', '--rm', FULL, 'next1', 'true']);
    assert.equal(next.code, 0, next.stderr);
    await nothingLeft();
  });

  test('a missing image, a bad id, a missing bind source are one clear line each', async () => {
    const missing = await inProcess(['run', '--rm', 'test/nope:1', 'x1', 'true']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ctr-remote: run x1: image docker.io\/test\/nope:1 is not in the store/);
    const bad = await inProcess(['run', '--rm', FULL, 'bad/id', 'true']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /invalid container ID "bad\/id"/);
    const src = await inProcess(['run', '--rm', '--mount', 'type=bind,source=/no/such,destination=/x', FULL, 'x2', 'true']);
    assert.equal(src.stderr, 'ctr-remote: run x2: mount source /no/such does not exist\n');
  });

  test('without root: one clear sentence', { skip: nobodyCannotRunCli }, async () => {
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', MAIN, '--root', join(tmp, 'nobody'), 'run', FULL, 'x', 'true'], {
      reject: false,
      env: { ...process.env, HOME: tmp },
    });
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /run needs root: it mounts overlayfs/);
  });
});
