// `run -d` and the container/task commands, end to end: the CLI as a real process, a lazily pulled image
// from a real registry (its layers served by the detached container's supervisor after the CLI exited),
// real runc. Each test checks that nothing is left: no container directory, mount or runc state.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { Context } from '../../src/image/context.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { runcList } from '../../src/runtime/runc.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { cliProcess, MAIN, spawnCli, type CliRun } from '../cli/cli-harness.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { publishLazyRunImage } from './run-fixture.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts, runc containers' : false;

/** A busybox loop that exits 7 on SIGTERM (a container's init has no default signal actions). */
const LOOP = ['sh', '-c', "trap 'echo got-term; exit 7' TERM; echo started; while true; do sleep 0.1; done"];

describe('detached containers: run -d, containers, tasks', { skip }, () => {
  let tmp = '';
  let root = '';
  let registry: RegistryFixture | undefined;
  let ref = '';
  const ctr = (...args: string[]): Promise<CliRun> => cliProcess(['--root', root, ...args]);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await ctr(...args);
    assert.equal(r.code, 0, `ctr-remote ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
    return r.stdout;
  };
  const taskLine = async (id: string): Promise<string[]> => {
    const out = await ok('tasks', 'ls');
    const line = out.split('\n').find((l) => l.split(/\s+/)[0] === id);
    return line ? line.trim().split(/\s+/) : [];
  };
  const waitStatus = async (id: string, status: string): Promise<string[]> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const cols = await taskLine(id);
      if (cols[2] === status) return cols;
      if (Date.now() > deadline) {
        const left = await readdir(join(root, 'containers')).catch(() => []);
        const log = await readFile(join(root, 'containers', id, 'log'), 'utf8').catch(() => '(no log)');
        throw new Error(`task ${id} never became ${status}: ${cols.join(' ')}; containers/: ${left.join(' ')}; log: ${log}`);
      }
      await sleep(200);
    }
  };
  const nothingLeft = async () => {
    assert.deepEqual(await readdir(join(root, 'containers')), []);
    assert.deepEqual(await mountsUnder(root), []);
    assert.deepEqual(await runcList(new RootLayout(root).runc), []);
  };

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-detached-'));
    root = join(tmp, 'root');
    registry = await startRegistry();
    ref = await publishLazyRunImage(tmp, root, registry.host);
  });
  after(async () => {
    await execa('pkill', ['-KILL', '-f', `--root ${root} supervise`], { reject: false });
    const runc = new RootLayout(root).runc;
    for (const c of await runcList(runc).catch(() => [])) await execa('runc', ['--root', runc, 'delete', '--force', c.id], { reject: false });
    await registry?.stop();
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  test('run -d returns while the container runs; its lazy layers stay served; exec, ps, kill, exit status, rm', async () => {
    await ok('run', '-d', ref, 'd1', ...LOOP);
    // the CLI has exited; the container runs under its supervisor
    const running = await taskLine('d1');
    assert.equal(running[2], 'RUNNING');
    assert.ok(Number(running[1]) > 1, `a pid: ${running.join(' ')}`);
    const ls = await ok('containers', 'ls');
    assert.match(ls, new RegExp(`^d1\\s+${ref.replace(/[/.:]/g, '\\$&')}\\s+io\\.containerd\\.runc\\.v2\\s+running`, 'm'));
    // a file no one read yet comes through the lazy mount the supervisor serves
    const exec = await ctr('tasks', 'exec', '--exec-id', 'e1', 'd1', 'cat', '/srv/data.txt');
    assert.deepEqual([exec.code, exec.stdout], [0, 'data v1\n'], exec.stderr);
    // exec -t under a terminal (a pty from util-linux script): the process gets a terminal of its own
    const quoted = [process.execPath, '--import', 'tsx', MAIN, '--root', root, 'tasks', 'exec', '-t', '--exec-id', 'e3', 'd1', 'sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo on-a-tty'].map((a) => `'${a}'`).join(' ');
    const tty = await execa('script', ['-qec', quoted, '/dev/null'], { reject: false, input: '' });
    assert.match(tty.stdout, /on-a-tty/, `${tty.stdout} ${tty.stderr}`);
    const failing = await ctr('tasks', 'exec', '--exec-id', 'e2', 'd1', 'sh', '-c', 'exit 5');
    assert.equal(failing.code, 5, 'the exec exit code is the command exit code');
    const pids = (await ok('tasks', 'ps', 'd1')).split('\n').slice(1).filter(Boolean).map(Number);
    assert.ok(pids.includes(Number(running[1])), `ps lists the init pid ${running[1]}: ${pids.join(',')}`);
    // rm refuses a running container
    const refused = await ctr('containers', 'rm', 'd1');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /d1 is running.*--force/);
    await ok('tasks', 'kill', '-s', 'TERM', 'd1');
    const stopped = await waitStatus('d1', 'STOPPED');
    assert.equal(stopped[3], '7', `exit status 7: ${stopped.join(' ')}`);
    assert.match(await readFile(join(root, 'containers', 'd1', 'log'), 'utf8'), /started\n[^]*got-term\n/);
    // stopped: its mounts are down, the directory (and exit status) kept
    assert.deepEqual(await mountsUnder(root), []);
    const kill = await ctr('tasks', 'kill', 'd1');
    assert.equal(kill.code, 1);
    assert.match(kill.stderr, /task d1 is stopped, not running/);
    await ok('containers', 'rm', 'd1');
    await nothingLeft();
  });

  test('tasks start runs a stopped container again with its writes; attach follows its output to its exit', async () => {
    // each run counts itself in a file of the rootfs, ticks until /tmp/go appears, then says which run it was
    const script = 'n=$(cat /srv/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /srv/count; echo run-$n; rm -f /tmp/go; '
      + 'while [ ! -e /tmp/go ]; do echo tick; sleep 0.1; done; echo bye-$n; exit 3';
    await ok('run', '-d', ref, 'd2', 'sh', '-c', script);
    // attach, and once it follows (ticks arrive), let the container end: attach prints the end and exits with its status
    const attach = spawnCli(['--root', root, 'tasks', 'attach', 'd2']);
    let seen = '';
    attach.stdout!.on('data', (c) => (seen += String(c)));
    const attachCode = new Promise<number>((resolve) => attach.on('close', (c) => resolve(c ?? -1)));
    const deadline = Date.now() + 20_000;
    while (!seen.includes('tick')) {
      assert.ok(Date.now() < deadline, 'attach prints the output as it comes');
      await sleep(50);
    }
    await ok('tasks', 'exec', '--exec-id', 'go', 'd2', 'touch', '/tmp/go');
    assert.equal(await attachCode, 3);
    assert.match(seen, /^(tick\n)+bye-1\n$/);
    await waitStatus('d2', 'STOPPED');
    // two starts at once: one takes the container, the other is refused, and the winner is left running
    const both = await Promise.all([ctr('tasks', 'start', '-d', 'd2'), ctr('tasks', 'start', '-d', 'd2')]);
    assert.deepEqual(both.map((r) => r.code).sort(), [0, 1], both.map((r) => r.stderr).join(''));
    assert.match(both.find((r) => r.code === 1)!.stderr, /container "d2" is running or starting/);
    assert.equal((await taskLine('d2'))[2], 'RUNNING');
    await ok('tasks', 'exec', '--exec-id', 'go', 'd2', 'touch', '/tmp/go');
    await waitStatus('d2', 'STOPPED');
    // started again in the foreground: its output from its start (the writes of the earlier runs are there)
    const again = spawnCli(['--root', root, 'tasks', 'start', 'd2']);
    let out2 = '';
    again.stdout!.on('data', (c) => (out2 += String(c)));
    const againCode = new Promise<number>((resolve) => again.on('close', (c) => resolve(c ?? -1)));
    while (!out2.includes('tick')) {
      assert.ok(Date.now() < deadline + 20_000, 'tasks start attaches to the output');
      await sleep(50);
    }
    await ok('tasks', 'exec', '--exec-id', 'go', 'd2', 'touch', '/tmp/go');
    assert.equal(await againCode, 3);
    assert.match(out2, /^run-3\n(tick\n)+bye-3\n$/);
    // the image's name now names another manifest: its writes belong over the old layers, so no restart
    const store = await new Context(root).store();
    const name = (await store.list()).find((n) => n.name.endsWith('/test/run-busybox:esgz'))!;
    const manifest = JSON.parse((await store.readBytes(name.descriptor.digest, 1 << 20)).toString('utf8')) as Record<string, unknown>;
    const other = await store.putBytes(Buffer.from(JSON.stringify({ ...manifest, annotations: { retagged: 'yes' } })));
    await store.setName(name.name, { ...name.descriptor, digest: other.digest, size: other.size });
    const moved = await ctr('tasks', 'start', '-d', 'd2');
    assert.equal(moved.code, 1);
    assert.match(moved.stderr, /now names manifest sha256:[0-9a-f]{64}; container d2 was made from sha256:/);
    await store.setName(name.name, name.descriptor);
    // stale state files: an owner record naming a live process that is not its owner (pid 1, another start
    // time), as after a reboot; a torn exit record. Both read as stopped with what is really known.
    const dir = join(root, 'containers', 'd2');
    const owner = JSON.parse(await readFile(join(dir, 'owner.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(dir, 'owner.json'), JSON.stringify({ ...owner, pid: 1, startTime: '1' }));
    assert.deepEqual((await taskLine('d2')).slice(2), ['STOPPED', '3']);
    await writeFile(join(dir, 'exit.json'), '{"exitCo');
    assert.deepEqual((await taskLine('d2')).slice(2), ['STOPPED', 'unknown']);
    await writeFile(join(dir, 'exit.json'), JSON.stringify({ exitCode: 3, exitedAt: new Date().toISOString() }));
    await ok('tasks', 'rm', 'd2');
    assert.equal((await taskLine('d2'))[3], 'unknown', 'tasks rm forgot the exit status');
    await ok('containers', 'rm', 'd2');
    await nothingLeft();
  });

  test('a killed supervisor: tasks ls tells the truth, containers rm still works', async () => {
    await ok('run', '-d', ref, 'd3', ...LOOP);
    const info = JSON.parse(await ok('containers', 'info', 'd3')) as { owner: number; task: { status: string; pid: number } };
    assert.equal(info.task.status, 'running');
    process.kill(info.owner, 'SIGKILL');
    const cols = await waitStatus('d3', 'STOPPED');
    assert.equal(cols[3], 'unknown', 'the exit status of a container whose supervisor was killed is unknown');
    // the listing's cleanup stopped what the dead supervisor left: no orphan keeps running on dead mounts
    const gone = Date.now() + 5000;
    while (alive(info.task.pid) && Date.now() < gone) await sleep(50);
    assert.equal(alive(info.task.pid), false, `pid ${info.task.pid} is gone`);
    await ok('containers', 'rm', 'd3');
    await nothingLeft();
  });

  test('run -d --rm: gone once it exits; containers rm --force stops a running one; a bad command fails run -d', async () => {
    await ok('run', '-d', '--rm', ref, 'd4', 'sh', '-c', 'sleep 0.5');
    const deadline = Date.now() + 20_000;
    while (await stat(join(root, 'containers', 'd4')).then(() => true, () => false)) {
      assert.ok(Date.now() < deadline, 'the --rm container went away');
      await sleep(100);
    }
    await ok('run', '-d', ref, 'd5', ...LOOP);
    await ok('containers', 'rm', '--force', 'd5');
    await nothingLeft();
    // --log-uri: the output goes to that file, private; a symlink there is refused before anything is set up
    const logFile = join(tmp, 'd8.log');
    await ok('run', '-d', '--rm', '--log-uri', `file://${logFile}`, ref, 'd8', 'sh', '-c', 'echo to-the-log');
    const logged = Date.now() + 20_000;
    while (!(await readFile(logFile, 'utf8').catch(() => '')).includes('to-the-log')) {
      assert.ok(Date.now() < logged, 'the output reaches the --log-uri file');
      await sleep(100);
    }
    assert.equal((await stat(logFile)).mode & 0o777, 0o600);
    await symlink('/etc/hostname', join(tmp, 'link.log'));
    const linked = await ctr('run', '-d', '--log-uri', join(tmp, 'link.log'), ref, 'd9', 'true');
    assert.equal(linked.code, 1);
    assert.match(linked.stderr, /log file .*link\.log: it is a symbolic link/);
    assert.equal((await ctr('run', '-d', '--log-uri', 'rel.log', ref, 'd9', 'true')).code, 2);
    const bad = await ctr('run', '-d', ref, 'd6', '/no/such/command');
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no\/such\/command/);
    const usage = await ctr('run', '-d', '-t', ref, 'd7');
    assert.equal(usage.code, 2);
    await nothingLeft();
  });
});
