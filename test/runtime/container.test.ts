import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { execa } from 'execa';
import { isCtrError } from '../../src/errors.js';
import { cleanupStaleContainers } from '../../src/runtime/cleanup.js';
import { runInContainer, type ContainerOptions } from '../../src/runtime/container.js';
import { containerPaths } from '../../src/runtime/container-paths.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { runcList } from '../../src/runtime/runc.js';
import { makeBusyboxRootfs } from './busybox-rootfs.js';
import { RootLayout } from '../../src/store/root-layout.js';

const skip = process.getuid?.() !== 0 ? 'needs root: overlayfs mounts and runc containers' : false;
const DRIVER = new URL('./run-driver.ts', import.meta.url).pathname;

describe('runInContainer with runc', { skip }, () => {
  let tmp = '';
  let root = '';
  let base = '';
  let top = '';
  let n = 0;
  const image = { Env: ['PATH=/bin', 'FROM_IMAGE=yes'], Cmd: ['echo', 'default-cmd'], WorkingDir: '/' };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-runtime-'));
    root = join(tmp, 'root');
    base = join(tmp, 'layers/base');
    top = join(tmp, 'layers/top');
    await makeBusyboxRootfs(base);
    await mkdir(join(top, 'etc'), { recursive: true });
    await writeFile(join(top, 'etc/motd'), 'from the top layer\n');
  });
  after(async () => {
    await cleanupStaleContainers(new RootLayout(root)).catch(() => {});
    await execa('sh', ['-c', `grep -q " ${tmp}" /proc/self/mountinfo && umount -R ${tmp}/root/containers/* || true`], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const run = (o: Partial<ContainerOptions> & { args?: string[] }) =>
    runInContainer({ root: new RootLayout(root), id: `c${++n}`, ref: 'test', lowerdirs: [top, base], image, remove: true, stdout: 'pipe', stderr: 'pipe', ...o });

  test('prints the command output; default command from the image; exit codes become ours', async () => {
    assert.deepEqual(await run({ args: ['echo', 'hello'] }), { exitCode: 0, stdout: 'hello\n', stderr: '' });
    assert.equal((await run({})).stdout, 'default-cmd\n');
    assert.equal((await run({ args: ['sh', '-c', 'exit 7'] })).exitCode, 7);
  });

  test('aborting kills the container (SIGKILL through runc): exit code 137, nothing left', async () => {
    const ac = new AbortController();
    const started = run({ id: 'aborted', args: ['sleep', '1000'], signal: ac.signal, onSpawn: () => setTimeout(() => ac.abort(), 500) });
    assert.equal((await started).exitCode, 137);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  test('streams output line by line to stream targets; a line can stop the container; our signals stay ours', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const shown = { out: '', err: '' };
    out.on('data', (b) => (shown.out += String(b)));
    err.on('data', (b) => (shown.err += String(b)));
    const lines: string[] = [];
    const stop = new AbortController();
    const sigterm = process.listenerCount('SIGTERM');
    let during = -1;
    const script = 'echo one; printf "t\\303\\251"; echo "te two"; echo oops >&2; sleep 100';
    const r = await run({
      args: ['sh', '-c', script], stdout: out, stderr: err, forwardSignals: false, signal: stop.signal,
      onSpawn: () => (during = process.listenerCount('SIGTERM')),
      onStdoutLine: (line) => {
        lines.push(line);
        if (line.includes('two')) stop.abort();
      },
    });
    assert.equal(r.exitCode, 137, 'killed at the line, not after the sleep');
    assert.deepEqual(lines, ['one', 't\u00e9te two']);
    assert.equal(shown.out, 'one\nt\u00e9te two\n');
    assert.equal(shown.err, 'oops\n');
    assert.equal(r.stdout, undefined, 'a stream target is not captured');
    assert.equal(during, sigterm, 'our SIGTERM listeners stay attached with forwardSignals: false');
  });

  test('captured output with a line callback: every line, the unterminated last one too; stderr still captured', async () => {
    const lines: string[] = [];
    const r = await run({ args: ['sh', '-c', 'echo a; echo b; echo e >&2; printf c'], onStdoutLine: (l) => lines.push(l) });
    assert.deepEqual(r, { exitCode: 0, stdout: 'a\nb\nc', stderr: 'e\n' });
    assert.deepEqual(lines, ['a', 'b', 'c']);
  });

  test('layers are stacked topmost first', async () => {
    assert.equal((await run({ args: ['cat', '/etc/motd'] })).stdout, 'from the top layer\n');
  });

  test('env, cwd, user with supplementary groups and a bind mount reach the process', async () => {
    const host = join(tmp, 'bind-src');
    await mkdir(host, { recursive: true });
    await writeFile(join(host, 'data.txt'), 'from the host\n');
    const r = await run({
      args: ['sh', '-c', 'echo "$FROM_IMAGE $ADDED"; pwd; id -u; id -g; id -G; cat /data/data.txt; touch /data/x 2>&1 || echo ro'],
      env: ['ADDED=1'],
      cwd: '/tmp',
      user: 'app',
      mounts: [{ destination: '/data', type: 'bind', source: host, options: ['ro', 'rbind'] }],
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = (r.stdout ?? '').trim().split('\n');
    assert.deepEqual(lines.slice(0, 6), ['yes 1', '/tmp', '1000', '1000', '1000 2000', 'from the host']);
    assert.equal(lines.at(-1), 'ro');
  });

  test('an unknown user fails before anything runs and leaves nothing', async () => {
    await assert.rejects(run({ args: ['true'], user: 'ghost' }), (e) => isCtrError(e, 'NotFound') && /user "ghost"/.test(e.message));
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  test('a missing runc binary is a clear Unavailable error', async () => {
    await assert.rejects(run({ args: ['true'], runc: '/no/such/runc' }), (e) => isCtrError(e, 'Unavailable') && /cannot start \/no\/such\/runc/.test(e.message));
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  test('a missing bind source is refused before runc, naming it', async () => {
    const mounts = [{ destination: '/x', type: 'bind', source: join(tmp, 'no-such-dir'), options: ['rbind'] }];
    await assert.rejects(run({ args: ['true'], mounts }), (e) => isCtrError(e, 'NotFound') && e.message.includes('no-such-dir'));
  });

  test('a missing executable is a NotFound error, not an exit code; the container that never ran is gone', async () => {
    await assert.rejects(run({ id: 'noexec', remove: false, args: ['/no/such/bin'] }), (e) => isCtrError(e, 'NotFound') && /no\/such\/bin/.test(e.message));
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  test('writes go to the upper dir, never to the layers; --rm leaves nothing behind', async () => {
    const before = await readdir(base);
    const kept = await run({ id: 'keeper', remove: false, args: ['sh', '-c', 'echo new > /newfile; rm /etc/passwd; echo x >> /etc/motd'] });
    assert.equal(kept.exitCode, 0, kept.stderr);
    const paths = containerPaths(new RootLayout(root), 'keeper');
    assert.equal(await readFile(join(paths.upper, 'newfile'), 'utf8'), 'new\n');
    assert.deepEqual(await readdir(base), before);
    assert.equal(await readFile(join(top, 'etc/motd'), 'utf8'), 'from the top layer\n');
    assert.ok((await readFile(join(base, 'etc/passwd'), 'utf8')).includes('app'));
    assert.deepEqual(await mountsUnder(paths.dir), [], 'a stopped container is unmounted');
    await assert.rejects(run({ id: 'keeper', args: ['true'] }), (e) => isCtrError(e, 'Conflict'));
    await rm(paths.dir, { recursive: true });

    const removed = await run({ id: 'gone', args: ['sh', '-c', 'echo y > /y'] });
    assert.equal(removed.exitCode, 0);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await mountsUnder(join(root, 'containers')), []);
    assert.deepEqual(await runcList(new RootLayout(root).runc), []);
  });

  test('without --net-host only loopback exists (and is up); with it the host interfaces show', async () => {
    const ifaces = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";
    assert.equal((await run({ args: ['sh', '-c', ifaces] })).stdout, 'lo\n');
    assert.match((await run({ args: ['ip', 'link', 'show', 'lo'] })).stdout ?? '', /LOOPBACK,UP/);
    const host = (await execa('sh', ['-c', ifaces])).stdout.split('\n').sort();
    assert.ok(host.length > 1, 'the host has more than loopback');
    const shared = await run({ netHost: true, args: ['sh', '-c', ifaces] });
    assert.deepEqual((shared.stdout ?? '').trim().split('\n').sort(), host);
  });

  test('/etc/hosts and /etc/hostname are generated for the container', async () => {
    const r = await run({ id: 'named', args: ['sh', '-c', 'hostname; grep named /etc/hosts; cat /etc/hostname'] });
    assert.equal(r.stdout, 'named\n127.0.1.1\tnamed\nnamed\n');
  });

  test('-t without a terminal on stdin is refused clearly', async () => {
    await assert.rejects(run({ tty: true, args: ['true'] }), (e) => isCtrError(e, 'InvalidArgument') && /-t needs a terminal/.test(e.message));
  });

  test('-t under a pty gives the process a terminal', async () => {
    const opts = JSON.stringify({ root, id: 'tty1', ref: 't', lowerdirs: [top, base], image, remove: true, tty: true, args: ['sh', '-c', 'tty; exit 3'] });
    const r = await execa('script', ['-qec', `node --import tsx ${DRIVER} '${opts}'`, '/dev/null'], { reject: false, stdin: 'ignore' });
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
    assert.equal(r.exitCode, 3);
  });

  test('SIGTERM to the owner is forwarded to the container; its exit code becomes ours', async () => {
    const opts = { root, id: 'sig', ref: 't', lowerdirs: [top, base], image, remove: true, args: ['sh', '-c', 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done'] };
    const child = startDriver(opts);
    await child.line('ready');
    child.proc.kill('SIGTERM');
    assert.equal(await child.exit, 42, child.output());
    assert.deepEqual(await readdir(join(root, 'containers')), []);
  });

  test('a run whose owner was SIGKILLed is cleaned by the next cleanup', async () => {
    const opts = { root, id: 'crashed', ref: 't', lowerdirs: [top, base], image, remove: true, args: ['sh', '-c', 'echo ready; exec sleep 1000'] };
    const child = startDriver(opts);
    await child.line('ready');
    child.proc.kill('SIGKILL');
    await child.exit;
    const paths = containerPaths(new RootLayout(root), 'crashed');
    assert.equal((await runcList(new RootLayout(root).runc)).find((s) => s.id === 'crashed')?.status, 'running', 'the orphan still runs');
    assert.ok((await mountsUnder(paths.dir)).length > 0);
    assert.deepEqual(await cleanupStaleContainers(new RootLayout(root)), ['crashed']);
    assert.deepEqual(await runcList(new RootLayout(root).runc), []);
    assert.deepEqual(await mountsUnder(paths.dir), []);
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await cleanupStaleContainers(new RootLayout(root)), [], 'nothing left for a second pass');
  });

  test('a live run is not touched by cleanup', async () => {
    const opts = { root, id: 'live', ref: 't', lowerdirs: [top, base], image, remove: true, args: ['sh', '-c', 'echo ready; sleep 2; echo done'] };
    const child = startDriver(opts);
    await child.line('ready');
    assert.deepEqual(await cleanupStaleContainers(new RootLayout(root)), []);
    assert.equal(await child.exit, 0, child.output());
    await child.line('done');
  });
});

/** Start the driver as a real owner process. Its exit is awaited, not its pipes: an orphaned runc may keep them open. */
function startDriver(opts: object) {
  const proc = spawn('node', ['--import', 'tsx', DRIVER, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  proc.stdout.on('data', (d: Buffer) => (seen += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (seen += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const line = async (text: string): Promise<void> => {
    const deadline = Date.now() + 20_000;
    while (!seen.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" from the driver within 20 s (got ${JSON.stringify(seen)})`);
      await sleep(50);
    }
  };
  return { proc, exit, line, output: () => seen };
}
