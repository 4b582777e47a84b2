// INTERRUPT through a real kernel: a read that the filesystem never finishes is aborted (ctx.signal) when the
// reading process gets a signal, the process is released, and the mount keeps serving.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountFuse, type FuseMount } from '../../src/fuse/mount.js';
import type { RequestContext } from '../../src/fuse/raw-filesystem.js';
import { MemoryFs } from './memory-fs.js';

const skip = process.getuid?.() !== 0 ? 'needs root: mounting FUSE requires CAP_SYS_ADMIN' : false;

describe('INTERRUPT from the kernel', { skip }, () => {
  let tmp = '';
  let dir = '';
  let m: FuseMount;
  let aborted = 0;
  let started = 0;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fuse-intr-'));
    dir = join(tmp, 'mnt');
    await mkdir(dir);
    const fs = new MemoryFs().file('slow', 'never arrives\n').file('ok', 'fine\n');
    const slowIno = (await fs.lookup(1, 'slow')).attr.ino;
    const read = fs.read.bind(fs);
    fs.read = async (ino: number, fh: number, off: number, size: number, ctx: RequestContext) => {
      if (ino !== slowIno) return read(ino, fh, off, size, ctx);
      started++;
      return new Promise<Uint8Array>((_, reject) => ctx.signal.addEventListener('abort', () => {
        aborted++;
        reject(Object.assign(new Error('read aborted'), { name: 'AbortError' }));
      }));
    };
    m = await mountFuse(dir, fs);
  });

  after(async () => {
    await m?.unmount();
    await rm(tmp, { recursive: true, force: true });
  });

  test('a signal to the reader aborts the pending READ and frees the process', async () => {
    const reader = execa('dd', [`if=${join(dir, 'slow')}`, 'of=/dev/null', 'bs=4096', 'count=1', 'iflag=direct'], { reject: false });
    // Signal once the READ is in the filesystem (polled: a fixed delay could fire before dd got there on a loaded machine).
    for (const deadline = Date.now() + 30_000; started === 0; await new Promise((r) => setTimeout(r, 10))) {
      if (Date.now() < deadline && reader.exitCode === null) continue;
      reader.kill('SIGKILL');
      assert.fail(`dd did not reach the READ (exit ${reader.exitCode})`);
    }
    const t0 = Date.now();
    reader.kill('SIGINT');
    const r = await reader;
    assert.equal(r.signal, 'SIGINT', `dd ended by the signal (exit ${r.exitCode})`);
    assert.ok(Date.now() - t0 < 5000, 'released promptly');
    assert.equal(started, 1);
    assert.equal(aborted, 1, 'the READ saw its signal abort');
    assert.equal(await readFile(join(dir, 'ok'), 'utf8'), 'fine\n');
  });
});
