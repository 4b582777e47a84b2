// Running child processes without execa (host/child-run.ts): exit codes, signals, a program that cannot be
// started (or whose spawn throws), piped output kept, input written, an abort that kills (SIGKILL when SIGTERM is
// ignored; nothing started once aborted), and pipes passed on to the caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstLine, runChild, startChild } from '../../src/host/child-run.js';
import { runCommand } from '../../src/host/command.js';
import { isCtrError } from '../../src/errors.js';

test('exit code, stdout and stderr of a child that ends by itself', async () => {
  const r = await runChild('sh', ['-c', 'echo out; echo "err line" >&2; echo more >&2; exit 3']);
  assert.deepEqual({ exitCode: r.exitCode, signal: r.signal, canceled: r.canceled, stdout: r.stdout, stderr: r.stderr }, { exitCode: 3, signal: undefined, canceled: false, stdout: 'out\n', stderr: 'err line\nmore\n' });
  assert.equal(firstLine(r.stderr), 'err line');
});

test('a child killed by a signal reports the signal, not an exit code', async () => {
  const r = await runChild('sh', ['-c', 'kill -TERM $$; sleep 5']);
  assert.equal(r.exitCode, undefined);
  assert.equal(r.signal, 'SIGTERM');
});

test('a program that cannot be started is a spawnError, never a throw', async () => {
  const r = await runChild('/nonexistent/program', ['x']);
  assert.equal(r.exitCode, undefined);
  assert.equal((r.spawnError as NodeJS.ErrnoException | undefined)?.code, 'ENOENT');
  const c = await runCommand('/nonexistent/program', [], 'frobnicate');
  assert.equal(c.exitCode, -1);
  assert.match(c.error, /^cannot start \/nonexistent\/program: .*ENOENT/);
});

test('input is written to stdin and the environment is exactly the one given', async () => {
  const r = await runChild('/bin/sh', ['-c', 'read line; echo "$line/$ONLY/${HOME:-nohome}"'], { stdio: ['pipe', 'pipe', 'pipe'], input: 'hello\n', env: { ONLY: 'yes' } });
  assert.equal(r.stdout, 'hello/yes/nohome\n');
});

test('an abort kills the child (SIGTERM) and is reported as canceled; runCommand turns it into Aborted', async () => {
  const ac = new AbortController();
  const started = Date.now();
  setTimeout(() => ac.abort(), 100);
  const r = await runChild('sleep', ['30'], { signal: ac.signal });
  assert.equal(r.canceled, true);
  assert.equal(r.signal, 'SIGTERM');
  assert.ok(Date.now() - started < 10_000);
  const again = new AbortController();
  setTimeout(() => again.abort(), 100);
  await assert.rejects(runCommand('sleep', ['30'], 'waiting', { signal: again.signal }), (e: unknown) => isCtrError(e, 'Aborted') && /^waiting: aborted$/.test((e as Error).message));
});

test('passPipes leaves piped output to the caller', async () => {
  const { child, done } = startChild('sh', ['-c', 'echo a; echo b'], { passPipes: true });
  let seen = '';
  child!.stdout!.on('data', (b: Buffer) => (seen += b.toString()));
  const r = await done;
  assert.equal(r.exitCode, 0);
  assert.equal(r.stdout, '', 'not kept');
  assert.equal(seen, 'a\nb\n', 'the caller read it');
});

test('an abort before the start starts nothing (and signals nobody); a spawn that throws is a spawnError', async () => {
  const r = await runChild('/nonexistent/program', [], { signal: AbortSignal.abort() });
  assert.deepEqual(r, { canceled: true, stdout: '', stderr: '' }, 'not started, and this process was not sent SIGTERM (it would have ended the test)');
  const { child, done } = startChild('echo', ['a'.repeat(300 << 10)]); // one argument over the kernel's 128 KiB per string
  const big = await done;
  assert.equal(child, undefined);
  assert.match(String((big.spawnError as NodeJS.ErrnoException | undefined)?.code), /^E2BIG$/);
});

test('a child that ignores SIGTERM after an abort gets SIGKILL', async () => {
  const ac = new AbortController();
  const { child, done } = startChild('sh', ['-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done'], { signal: ac.signal, forceKillAfterMs: 200, passPipes: true });
  await new Promise((resolve) => child!.stdout!.once('data', resolve)); // its trap is set
  ac.abort();
  const r = await done;
  assert.equal(r.canceled, true);
  assert.equal(r.signal, 'SIGKILL');
});
