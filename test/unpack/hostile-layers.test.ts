// Hostile layers: entries that try to write outside the destination are refused with a clear error and
// nothing appears outside it.

import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, mkdir, readdir, lstat, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { encodeTar } from '../../src/tar/writer.js';
import type { TarHeader } from '../../src/tar/header.js';
import { unpackLayer } from '../../src/unpack/unpack-layer.js';

const b = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 } as const;
type E = { header: TarHeader; data?: Buffer };
const file = (name: string, text = 'pwned'): E => ({ header: { ...b, name, type: 'file', size: text.length }, data: Buffer.from(text) });
const sym = (name: string, linkname: string): E => ({ header: { ...b, name, type: 'symlink', linkname } });
const hard = (name: string, linkname: string): E => ({ header: { ...b, name, type: 'hardlink', linkname } });

describe('hostile layers', () => {
  let tmp: string;
  let dest: string;
  let outside: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'unpack-hostile-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));
  let n = 0;
  beforeEach(async () => {
    // tmp/case-N/{outside,deep/er/dest}: a dest nested deep enough that ../ chains have somewhere to go
    const c = join(tmp, `case-${n++}`);
    outside = join(c, 'outside');
    dest = join(c, 'deep', 'er', 'dest');
    await mkdir(outside, { recursive: true });
    await mkdir(dest, { recursive: true });
  });

  /** Unpack and expect a refusal matching `message`; nothing may appear outside `dest`. */
  async function refused(entries: E[], message: RegExp, mode: 'apply' | 'overlayfs' = 'apply'): Promise<void> {
    const before = await listAll(join(dest, '..', '..', '..'));
    await assert.rejects(unpackLayer([encodeTar(entries)], dest, { whiteouts: mode }), (e: unknown) => {
      assert.ok(isCtrError(e, 'InvalidArgument'), String(e));
      assert.match((e as Error).message, message);
      return true;
    });
    const after = (await listAll(join(dest, '..', '..', '..'))).filter((p) => !p.startsWith('deep/er/dest/'));
    assert.deepEqual(after, before.filter((p) => !p.startsWith('deep/er/dest/')));
    assert.deepEqual(await readdir(outside), []);
  }

  test('"../" paths are refused', async () => {
    await refused([file('../evil')], /unpack "..\/evil": layer entry "..\/evil" climbs above the layer root/);
    await refused([file('ok/../../../evil')], /climbs above the layer root/);
    await refused([file('./../outside/evil')], /climbs above the layer root/);
  });

  test('a symlink that climbs out, then a file written through it, is refused', async () => {
    await refused([sym('esc', '../../../outside'), file('esc/pwned')], /"esc\/pwned" goes through a symlink that leads outside the destination/);
    await refused([sym('a', 'b'), sym('b', '..'), file('a/x/pwned')], /leads outside the destination/);
    await refused([sym('loop1', 'loop2'), sym('loop2', 'loop1'), file('loop1/x')], /too many levels of symbolic links/);
  });

  test('an absolute symlink is resolved inside the destination, never on the host', async () => {
    await unpackLayer([encodeTar([sym('abs', outside), file('abs/pwned', 'contained')])], dest, { whiteouts: 'apply' });
    assert.deepEqual(await readdir(outside), []);
    assert.equal(await readFile(join(dest, outside, 'pwned'), 'utf8'), 'contained');
    assert.ok((await lstat(join(dest, 'abs'))).isSymbolicLink());
  });

  test('a hardlink to /etc/shadow of the host is refused', async () => {
    const shadow = await stat('/etc/shadow');
    await refused([hard('h', '/etc/shadow')], /hardlink "h" target "\/etc\/shadow" is not in the destination/);
    await refused([hard('h', '../../../../../../../../etc/shadow')], /hardlink "h" points outside the destination/);
    await refused([sym('e', '/etc'), hard('h', 'e/shadow')], /hardlink "h" target "e\/shadow" is not in the destination/);
    await refused([sym('etc', '/etc'), hard('h', 'etc/shadow')], /too many levels of symbolic links/); // "/etc" inside the root is itself
    await refused([sym('up', '../../..'), hard('h', 'up/outside/x')], /leads outside the destination/);
    assert.equal((await stat('/etc/shadow')).nlink, shadow.nlink);
    assert.deepEqual(await readdir(dest).then((l) => l.includes('h')), false);
  });

  test('whiteouts cannot reach outside either', async () => {
    await refused([file('../.wh.outside')], /climbs above the layer root/);
    await refused([sym('esc', '../../..'), file('esc/outside/.wh..wh..opq')], /leads outside the destination/);
    await refused([file('.wh..')], /whiteout ".wh.." names no file/);
  });

  test('a file entry replacing a symlink to a host file writes the destination, not the host file', async () => {
    const victim = join(outside, 'victim');
    await import('node:fs/promises').then((fs) => fs.writeFile(victim, 'safe'));
    await unpackLayer([encodeTar([sym('v', victim), file('v', 'replaced')])], dest, { whiteouts: 'apply' });
    assert.equal(await readFile(victim, 'utf8'), 'safe');
    assert.equal(await readFile(join(dest, 'v'), 'utf8'), 'replaced');
  });
});

async function listAll(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const c of await readdir(d, { withFileTypes: true })) {
      const p = join(d, c.name);
      out.push(relative(root, p));
      if (c.isDirectory()) await walk(p);
    }
  }
  await walk(root);
  return out.sort();
}
