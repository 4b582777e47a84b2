// Claiming a unix socket path: a stale socket file (nobody listens) is replaced, a live listener is refused
// and keeps its socket, a file that is not a socket is refused; connectUnix answers undefined when nobody listens.
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { claimSocketPath, connectUnix } from '../../src/host/unix-socket.js';

test('stale sockets are replaced, live ones and other files refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'unix-socket-'));
  try {
    const path = join(dir, 'sub', 's.sock');
    await claimSocketPath(path); // the directory is made
    const live = createServer();
    await new Promise<void>((r) => live.listen(path, r));
    const conn = await connectUnix(path);
    assert.ok(conn);
    conn.destroy();
    await assert.rejects(claimSocketPath(path), (e: unknown) => isCtrError(e, 'FailedPrecondition') && /listening on/.test(e.message));
    assert.ok((await stat(path)).isSocket(), 'a live listener keeps its socket');
    await new Promise<void>((r) => live.close(() => r()));
    // a listener killed with SIGKILL leaves its socket file behind
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => child.stdout.once('data', r));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok((await stat(path)).isSocket());
    assert.equal(await connectUnix(path), undefined);
    await claimSocketPath(path);
    await assert.rejects(stat(path), /ENOENT/);
    await writeFile(path, 'not a socket');
    await assert.rejects(claimSocketPath(path), (e: unknown) => isCtrError(e, 'FailedPrecondition') && /not a socket/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
