// A relative --root, as a user types it (`--root state`): `run` and `image mount` work from the working
// directory the CLI was started in (the root is made absolute once, where the global flags are read).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { buildRunImage, FULL } from '../runtime/run-fixture.js';
import { fileURLToPath } from 'node:url';

// The built CLI: under tsx, the FUSE worker's bootstrap would look tsx up from the working directory.
const BIN = fileURLToPath(new URL('../../bin/ctr-remote', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../../dist/ctr-remote.mjs', import.meta.url)));
const skip = process.getuid?.() !== 0 ? 'needs root: overlayfs and FUSE mounts, runc containers' : built ? false : 'needs dist/ctr-remote.mjs: run `npm run build` first';

/** The CLI as a child process in `cwd`; resolves once `until` (if given) is printed, else at exit. */
function cliIn(cwd: string, args: string[], until?: RegExp) {
  const child = spawn(BIN, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += String(c)));
  child.stderr.on('data', (c) => (err += String(c)));
  const exited = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout: out, stderr: err })));
  const printed = until
    ? new Promise<void>((resolve, reject) => {
        const check = () => (until.test(out) ? resolve() : undefined);
        child.stdout.on('data', check);
        void exited.then((r) => reject(new Error(`exited ${r.code} before ${until}: ${r.stdout}${r.stderr}`)));
      })
    : exited.then(() => undefined);
  return { child, exited, printed };
}

describe('a relative --root', { skip }, () => {
  let tmp = '';
  let registry: RegistryFixture | undefined;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cli-relroot-'));
    await buildRunImage(join(tmp, 'layout'));
    registry = await startRegistry();
  });
  after(async () => {
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
    await registry?.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  test('run works with --root given relative to the working directory', async () => {
    assert.equal((await cliIn(tmp, ['--root', 'state', 'image', 'tag', `oci:layout:${FULL}`, FULL]).exited).code, 0);
    const r = await cliIn(tmp, ['--root', 'state', 'run', '--rm', FULL, 'h9-cli-relroot1']).exited;
    assert.deepEqual([r.code, r.stdout], [0, 'hello from the image\n'], r.stderr);
    assert.deepEqual(await mountsUnder(join(tmp, 'state')), [], 'nothing left mounted');
  });

  test('image mount (lazy layers, relative mount point too) and unmount work with a relative --root', async () => {
    const ref = `${registry!.host}/relroot/app:esgz`;
    for (const args of [['image', 'convert', '--estargz', '--oci', `oci:layout:${FULL}`, 'esgz:1'], ['image', 'push', ref, 'esgz:1'], ['image', 'rpull', ref]]) {
      const r = await cliIn(tmp, ['--root', 'lazy-state', ...args]).exited;
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const m = cliIn(tmp, ['--root', 'lazy-state', 'image', 'mount', ref, 'mnt'], /mounted .* at /);
    await m.printed;
    try {
      assert.equal(await readFile(join(tmp, 'mnt', 'etc', 'motd'), 'utf8'), 'hello from the image\n');
    } finally {
      const u = await cliIn(tmp, ['--root', 'lazy-state', 'image', 'unmount', 'mnt']).exited;
      assert.equal(u.code, 0, u.stderr);
    }
    assert.equal((await m.exited).code, 0);
    assert.deepEqual(await mountsUnder(tmp), []);
  });
});
