// What the built tool loads of node when it starts: the fuse manager (the keeper, which an rpull starts and
// waits for) loads the registry client as it starts, and neither node:http2 (undici's HTTP/2 client, left out
// of the bundle: scripts/undici-no-h2.cjs) nor node:tls (loaded when a TLS file is read or an https registry
// is reached) comes with it. Read from node's own list of the modules a process loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const entry = join(repo, 'dist', 'ctr-remote.mjs');
const skip = !existsSync(entry) ? 'needs dist/ctr-remote.mjs: run `npm run build` first' : process.getuid?.() !== 0 ? 'needs root: the fuse manager detaches stale FUSE mounts as it starts' : false;

test('the started fuse manager has the registry client loaded, without node:http2 or node:tls', { skip, timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'bundle-builtins-'));
  try {
    const list = join(dir, 'modules.json');
    // preloaded: writes the list when the process ends (SIGINT ends the manager cleanly)
    const hook = join(dir, 'hook.cjs');
    await writeFile(hook, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(process.moduleLoadList)));\n`);
    const root = join(dir, 'root');
    const child = spawn(process.execPath, ['--require', hook, entry, 'snapshotter', 'fuse-manager', '--settings', JSON.stringify({ root, warmUp: 'none' })], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr!.on('data', (d) => (log += String(d)));
    const deadline = Date.now() + 30_000;
    while (!log.includes('fuse manager serving') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.match(log, /fuse manager serving/, 'the manager started');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGINT');
    await exited;
    const loaded = JSON.parse(await readFile(list, 'utf8')) as string[];
    assert.ok(loaded.includes('NativeModule zlib') && loaded.includes('NativeModule net'), 'the layer service and its registry client were loaded (control)');
    assert.ok(!loaded.includes('NativeModule http2'), 'node:http2 was not loaded');
    assert.ok(!loaded.includes('NativeModule tls'), 'node:tls was not loaded');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
