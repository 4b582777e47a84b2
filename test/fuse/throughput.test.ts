// Throughput and latency numbers of the FUSE server (reported as diagnostics, not asserted beyond
// correctness): a 256 MiB file read with dd bs=1M after dropping caches, direct 1 MiB reads, 4 KiB direct
// reads (one round trip each), and the share of time the main thread spends writing replies.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { mountFuse, type FuseMount } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const skip = process.getuid?.() !== 0 ? 'needs root: mounting FUSE and dropping caches require CAP_SYS_ADMIN' : false;
const MiB = 1 << 20;

/** Run dd and return MB/s from its summary line. */
async function dd(args: string[]): Promise<{ mbps: number; seconds: number }> {
  const { stderr } = await execa('dd', [...args, 'of=/dev/null']);
  const m = /copied, ([\d.]+) s/.exec(stderr);
  assert.ok(m, stderr);
  const bytes = Number(/^(\d+) bytes/m.exec(stderr)![1]);
  const seconds = Number(m[1]);
  return { mbps: bytes / 1e6 / seconds, seconds };
}

describe('FUSE throughput (numbers for the report)', { skip }, () => {
  let tmp = '';
  let dir = '';
  let m: FuseMount;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'fuse-tput-'));
    dir = join(tmp, 'mnt');
    await mkdir(dir);
    const fs = new MemoryFs().patternFile('big.bin', 256 * MiB).mkdir('tree');
    for (let d = 0; d < 50; d++) {
      fs.mkdir(`tree/d${d}`);
      for (let f = 0; f < 100; f++) fs.file(`tree/d${d}/file-${f}.txt`, `${d}/${f}\n`);
    }
    m = await mountFuse(dir, fs);
  });
  after(async () => {
    await m?.unmount();
    await rm(tmp, { recursive: true, force: true });
  });

  test('dd bs=1M of 256 MiB, caches dropped; direct 1 MiB and 4 KiB reads', async (t) => {
    const file = join(dir, 'big.bin');
    await writeFile('/proc/sys/vm/drop_caches', '3');
    const before = { ...m.stats };
    const cold = await dd([`if=${file}`, 'bs=1M']);
    const writeShare = (m.stats.writeMs - before.writeMs) / (cold.seconds * 1000);
    const coldRequests = m.stats.requests - before.requests;
    const direct = await dd([`if=${file}`, 'bs=1M', 'iflag=direct']);
    const small = await dd([`if=${file}`, 'bs=4k', 'count=20000', 'iflag=direct']);
    t.diagnostic(`buffered dd bs=1M, cold: ${cold.mbps.toFixed(0)} MB/s (${coldRequests} requests, main-thread writev ${(writeShare * 100).toFixed(1)}% of the time)`);
    t.diagnostic(`direct dd bs=1M: ${direct.mbps.toFixed(0)} MB/s`);
    t.diagnostic(`direct dd bs=4k: ${((20000 / small.seconds) / 1000).toFixed(1)}k requests/s, ${((small.seconds / 20000) * 1e6).toFixed(0)} µs per round trip`);
    assert.ok(cold.mbps > 0 && direct.mbps > 0);
  });

  test('stat walk of 5000 files in 50 directories, caches dropped', async (t) => {
    await writeFile('/proc/sys/vm/drop_caches', '3');
    const t0 = performance.now();
    const { stdout } = await execa('find', [join(dir, 'tree'), '-type', 'f', '-printf', '%s %m\n']);
    const ms = performance.now() - t0;
    assert.equal(stdout.split('\n').length, 5000);
    t.diagnostic(`find -printf (readdirplus + stat) of 5000 files: ${ms.toFixed(0)} ms, ${((ms * 1000) / 5050).toFixed(0)} µs per entry`);
  });
});
