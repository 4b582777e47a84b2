// Mount lifecycle across processes: SIGTERM/SIGINT unmount cleanly; SIGKILL leaves a stale mount
// ("Transport endpoint is not connected") that cleanupStaleMounts detects and removes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { cleanupStaleMounts, isDisconnected } from '../../src/fuse/stale-mounts.js';
import { mountFuse } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const skip = process.getuid?.() !== 0 ? 'needs root: mounting FUSE requires CAP_SYS_ADMIN' : false;
const server = new URL('./serve-memory-fs.ts', import.meta.url).pathname;

async function mounted(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((l) => l.split(' ')[4] === dir);
}

/** Start a serving child and wait for its "ready" line (wrapped: a returned child would be awaited). */
async function serve(dir: string, mode = 'serve'): Promise<{ child: ResultPromise }> {
  const child = execa('node', ['--import', 'tsx', server, dir, mode], { reject: false, cwd: new URL('../..', import.meta.url).pathname });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    void child.then((r) => reject(new Error(`server exited before ready: ${r.stderr}`)));
  });
  return { child };
}

describe('mount lifecycle', { skip }, () => {
  let tmp = '';
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fuse-life-'));
  });
  after(async () => {
    await cleanupStaleMounts(tmp);
    await rm(tmp, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`${signal} unmounts cleanly and the process still dies of the signal`, async () => {
      const dir = join(tmp, signal);
      await mkdir(dir);
      const { child } = await serve(dir);
      assert.equal(await readFile(join(dir, 'hello'), 'utf8'), 'hello\n');
      child.kill(signal);
      const r = await child;
      assert.equal(r.signal, signal);
      assert.equal(await mounted(dir), false);
      assert.deepEqual(await readdir(dir), []);
    });
  }

  test('a bug thrown outside every handler ends the server in one line (exit 70): the reader gets an error, not a hang; the mount is gone', async () => {
    const dir = join(tmp, 'fatal');
    await mkdir(dir);
    const child = execa('node', ['--import', 'tsx', new URL('./serve-failing-fs.ts', import.meta.url).pathname, dir], { reject: false, cwd: new URL('../..', import.meta.url).pathname });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
      void child.then((r) => reject(new Error(`server exited before ready: ${r.stderr}`)));
    });
    const reader = execa('cat', [join(dir, 'hello')], { reject: false, timeout: 20_000 });
    const [r, server] = await Promise.all([reader, child]);
    assert.equal(r.timedOut, false, 'the reader hung on a dead server');
    assert.notEqual(r.exitCode, 0, `the reader got bytes: ${r.stdout}`);
    assert.equal(server.exitCode, 70);
    assert.equal(String(server.stderr).trim(), 'ctr-remote: internal error: Array buffer allocation failed (run with --debug for details)');
    assert.equal(await mounted(dir), false);
  });

  test('process.exit() with a live mount unmounts it from the exit hook', async () => {
    const dir = join(tmp, 'exit');
    await mkdir(dir);
    const { child } = await serve(dir, 'exit');
    const r = await child;
    assert.equal(r.exitCode, 0);
    assert.equal(await mounted(dir), false);
  });

  test('SIGKILL leaves a stale mount that cleanupStaleMounts removes', async () => {
    const dir = join(tmp, 'killed');
    await mkdir(dir);
    const live = join(tmp, 'live');
    await mkdir(live);
    const ours = await mountFuse(live, new MemoryFs().file('x', 'x'));
    const { child } = await serve(dir);
    child.kill('SIGKILL');
    await child;
    assert.equal(await mounted(dir), true);
    await assert.rejects(readdir(dir), { code: 'ENOTCONN' });
    assert.equal(await isDisconnected(dir), true);
    assert.equal(await isDisconnected(live), false);
    assert.deepEqual(await cleanupStaleMounts(tmp), [dir]);
    assert.equal(await mounted(dir), false);
    assert.equal(await mounted(live), true, 'a healthy mount (served by this process) is left alone');
    assert.deepEqual(await readdir(dir), []);
    await ours.unmount();
  });

  test('unmount() of a busy mount falls back to a lazy unmount and ends when the user lets go', async () => {
    const dir = join(tmp, 'busy');
    await mkdir(dir);
    const m = await mountFuse(dir, new MemoryFs().file('f', 'data'));
    const holder = execa('sh', ['-c', 'exec sleep 2 < "$0"', join(dir, 'f')], { reject: false });
    // Unmount once the holder has the file open (polled: after a fixed delay it might not yet, and the
    // mount would not be busy at all).
    for (const deadline = Date.now() + 10_000; ; await new Promise((r) => setTimeout(r, 10))) {
      if ((await readlink(`/proc/${holder.pid}/fd/0`).catch(() => '')) === join(dir, 'f')) break;
      assert.ok(Date.now() < deadline && holder.exitCode === null, 'the holder opened the file');
    }
    await m.unmount();
    assert.equal(await mounted(dir), false, 'detached at once');
    await holder;
    await m.closed;
  });
});
