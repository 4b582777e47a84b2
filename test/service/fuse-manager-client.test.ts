// When the fuse manager's client acts: rpull starts the keeper and then holds its event loop for tens of ms
// at a time (loading modules, parsing a TOC), so a start or a hint that waited for a turn of the loop would
// wait for all of that. A real child process plays the manager (or fails to be one); no timing is asserted,
// only what has happened before the loop turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuseManagerClient } from '../../src/service/fuse-manager-client.js';
import { managerSocket } from '../../src/service/fuse-manager-protocol.js';
import { RootLayout } from '../../src/store/root-layout.js';

const layer = { ref: 'example.com/a:1', digest: `sha256:${'a'.repeat(64)}`, size: 1000 };

/**
 * A stand-in manager: another process (so it reads while this one is busy) running `serve`, an expression
 * that makes a net server, listening on the manager's socket of `root`; resolves once it listens.
 */
async function standInManager(root: string, serve: string): Promise<ChildProcess> {
  const paths = new RootLayout(root);
  await mkdir(paths.snapshotter, { recursive: true });
  const server = spawn(process.execPath, ['-e', `(${serve}).listen(${JSON.stringify(managerSocket(paths))}, () => process.stdout.write('listening\\n'));`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`stand-in manager exited ${code}`)));
    });
  } catch (e) {
    server.kill();
    throw e;
  }
  return server;
}

test('with no manager running, connect spawns one before the event loop turns', async () => {
  const root = await mkdtemp(join(tmpdir(), 'manager-client-'));
  try {
    // a "manager" that never answers and ends soon: the start fails, after the spawn this test looks for
    const client = new FuseManagerClient({ root }, { argv: [process.execPath, '-e', 'setTimeout(() => {}, 300)'] });
    const connecting = client.connect().then(() => undefined, (e: unknown) => e);
    const log = join(root, 'snapshotter', 'fuse-manager.log'); // opened for the child just before it is spawned
    const spawnedAtFirstTurn = await new Promise<boolean>((resolve) => setImmediate(() => resolve(existsSync(log))));
    assert.equal(spawnedAtFirstTurn, true, 'the manager was spawned before the first turn of the event loop');
    const failure = await connecting;
    assert.match(String((failure as Error).message), /exited .* before it answered/);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('connected, a request is on the socket when the call returns, even if the caller then holds the event loop', { timeout: 20_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'manager-client-'));
  const marker = join(root, 'got-request');
  const server = await standInManager(root, `require('node:net').createServer((c) => c.on('data', (d) => require('node:fs').writeFileSync(${JSON.stringify(marker)}, d)))`);
  try {
    const client = new FuseManagerClient({ root }, { start: false });
    await client.connect();
    client.prefetch(layer, { offset: 0, length: 100 });
    // hold the loop (as a TOC parse does) until the other process has the request, for at most 10 s
    const deadline = Date.now() + 10_000;
    while (!existsSync(marker) && Date.now() < deadline);
    assert.equal(existsSync(marker), true, 'the request reached the manager while this process held its event loop');
    client.close();
  } finally {
    server.kill();
    await rm(root, { recursive: true, force: true });
  }
});

test('a keeper started by an earlier version answers hand with null: the pid comes from its status', { timeout: 20_000 }, async () => {
  const root = await mkdtemp(join(tmpdir(), 'manager-client-'));
  // answers as a manager of the previous version did: hand → null, status → its pid (4242 here)
  const server = await standInManager(root, `require('node:net').createServer((c) => {
    let buf = '';
    c.on('data', (d) => {
      buf += d;
      for (let i; (i = buf.indexOf('\\n')) >= 0; buf = buf.slice(i + 1)) {
        const req = JSON.parse(buf.slice(0, i));
        const result = req.method === 'status' ? { pid: 4242, served: [], mounting: [] } : null;
        c.write(JSON.stringify({ id: req.id, result }) + '\\n');
      }
    });
  })`);
  try {
    const client = new FuseManagerClient({ root }, { start: false });
    assert.equal(await client.hand([{ dir: join(root, 'layer'), layer }]), 4242);
    client.close();
  } finally {
    server.kill();
    await rm(root, { recursive: true, force: true });
  }
});
