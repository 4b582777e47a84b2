// The serving thread's wait for the next request: when it waits (burst-spin.ts, from the times alone), the
// budget every mount of a process shares per turn of the event loop, that the device stream's wait hands
// over exactly the request that came (device-stream.ts, over a FIFO, which libuv polls like /dev/fuse), and
// on a real mount that an outside walker's requests are taken by the wait (the wiring) and answered right.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { BurstSpin, TurnBudget } from '../../src/fuse/burst-spin.js';
import { openDeviceStream } from '../../src/fuse/device-stream.js';
import { mountFuse } from '../../src/fuse/mount.js';
import { MemoryFs } from './memory-fs.js';

const skipMount = process.getuid?.() !== 0 ? 'needs root: mounting FUSE (/dev/fuse, mount -t fuse) requires CAP_SYS_ADMIN' : false;

const OPTIONS = { spinUs: 50, burstGapMs: 1 };

describe('burst spin policy', () => {
  test('a lone request gets no wait; one that came soon after a reply does', () => {
    const s = new BurstSpin(OPTIONS);
    s.request(1000);
    assert.equal(s.replied(1000.2), 0, 'the first request of a mount is no burst');
    s.request(1000.5); // 0.3 ms after the reply
    assert.equal(s.replied(1000.6), 50);
    s.request(1000.62);
    assert.equal(s.replied(1000.7), 50, 'the burst goes on');
    s.request(1005); // 4.3 ms later: the program did something else meanwhile
    assert.equal(s.replied(1005.1), 0);
  });

  test('no wait while another request is still in flight', () => {
    const s = new BurstSpin(OPTIONS);
    s.request(0);
    s.replied(0.1);
    s.request(0.2);
    s.request(0.3); // a READ waiting on the registry, say
    assert.equal(s.replied(0.4), 0, 'one still in flight: the event loop has work');
    assert.equal(s.replied(5), 50, 'the last one answered: wait, the burst began within the gap');
  });

  test('spinUs 0 never waits', () => {
    const s = new BurstSpin({ spinUs: 0, burstGapMs: 1 });
    for (let t = 0; t < 10; t += 0.1) {
      s.request(t);
      assert.equal(s.replied(t + 0.01), 0);
    }
  });
});

describe('turn budget shared by the mounts of a process', () => {
  test('waits stop once the budget of a turn is spent, and start again when the loop has turned', () => {
    const turns: (() => void)[] = [];
    const b = new TurnBudget(1, (next) => turns.push(next));
    assert.equal(b.allow(10), true, 'the first wait of a turn');
    assert.equal(turns.length, 1, 'the next turn is scheduled once');
    assert.equal(b.allow(10.4), true);
    assert.equal(b.allow(10.99), true);
    assert.equal(b.allow(11), false, 'a chain of waits in one turn: 1 ms, and the loop must run');
    assert.equal(b.allow(50), false, 'still the same turn however late');
    assert.equal(turns.length, 1);
    turns.shift()!();
    assert.equal(b.allow(50.1), true, 'the loop turned: a new budget');
    assert.equal(turns.length, 1);
  });
});

describe('device stream wait', () => {
  /** A FIFO opened read-write and non-blocking (what uv_pipe_open makes of /dev/fuse), and its writer. */
  function fifo(): { fd: number; writer: number; done: () => void } {
    const dir = mkdtempSync(join(tmpdir(), 'ctr-spin-'));
    const path = join(dir, 'dev');
    execFileSync('mkfifo', [path]);
    const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    const writer = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    return { fd, writer, done: () => { closeSync(writer); rmSync(dir, { recursive: true, force: true }); } };
  }

  /** A request as the kernel frames it: its length first, then the rest of a 40-byte header and a body. */
  function request(unique: number, body = 8): Buffer {
    const b = Buffer.alloc(40 + body, unique & 0xff);
    b.writeUInt32LE(b.length, 0);
    return b;
  }

  test('a request that is there is taken at once, whole; nothing there is a wait that ends empty', (t) => {
    const f = fifo();
    t.after(f.done);
    const got: Buffer[] = [];
    const limits: number[] = [];
    const stream = openDeviceStream(f.fd, {
      onRequest: (r) => {
        got.push(Buffer.from(r));
        limits.push(Error.stackTraceLimit);
      },
      onEnd: () => {},
    });
    assert.ok(stream, 'the pipe binding polls a FIFO');
    try {
      assert.equal(stream.spin(2_000), false, 'nothing written: the wait ends without a request');
      assert.equal(got.length, 0);
      const a = request(7, 24);
      const b = request(9);
      writeSync(f.writer, Buffer.concat([a, b]));
      assert.equal(stream.spin(1_000_000), true);
      assert.deepEqual(got, [a, b], 'both requests of the read, split by their lengths, in order');
      const limit = Error.stackTraceLimit;
      assert.deepEqual(limits, [limit, limit], 'handlers run with stack traces (the wait turns them off for its own reads only)');
    } finally {
      stream.close();
    }
    assert.equal(stream.spin(1_000), false, 'a closed stream does not read');
  });

  test("a wait takes the request of another stream in the same burst, not of one that was quiet", async (t) => {
    const fa = fifo();
    const fb = fifo();
    t.after(() => { fa.done(); fb.done(); });
    const got: string[] = [];
    const a = openDeviceStream(fa.fd, { onRequest: (r) => got.push(`a${r[8]}`), onEnd: () => {} })!;
    const b = openDeviceStream(fb.fd, { onRequest: (r) => got.push(`b${r[8]}`), onEnd: () => {} })!;
    try {
      writeSync(fb.writer, request(1));
      assert.equal(b.spin(1_000_000), true, "b's own request");
      writeSync(fb.writer, request(2)); // b had a request just now: it is in a's burst
      assert.equal(a.spin(1_000_000), true, "a's wait takes b's request");
      assert.deepEqual(got, ['b1', 'b2'], 'handed to b, the stream it came to');
      await new Promise((r) => setTimeout(r, 20)); // b quiet for longer than a burst's gap
      writeSync(fb.writer, request(3));
      assert.equal(a.spin(2_000), false, "b is no longer watched by a's wait");
      assert.equal(b.spin(1_000_000), true);
      assert.deepEqual(got, ['b1', 'b2', 'b3']);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('waiting on a real mount', { skip: skipMount }, () => {
  test("an outside walker's requests are taken by the wait, and the walk sees the whole tree", async (t) => {
    const tmp = mkdtempSync(join(tmpdir(), 'ctr-spin-mount-'));
    const dir = join(tmp, 'mnt');
    mkdirSync(dir);
    const fs = new MemoryFs();
    for (let d = 0; d < 40; d++) {
      fs.mkdir(`d${d}`);
      for (let f = 0; f < 25; f++) fs.file(`d${d}/f${f}`, `${d}.${f}\n`);
    }
    // a wait of up to 5 ms: a walker on another CPU sends its next request well within that, so some are
    // taken by the wait however loaded the machine (the default 50 us is what the benchmarks measure)
    const m = await mountFuse(dir, fs, { onError: () => {}, spin: { spinUs: 5_000, burstGapMs: 50 } });
    t.after(async () => {
      await m.unmount();
      rmSync(tmp, { recursive: true, force: true });
    });
    const walk = promisify(execFile);
    const before = m.stats.spun;
    for (let i = 0; i < 3 && m.stats.spun === before; i++) {
      execFileSync('sh', ['-c', 'echo 2 > /proc/sys/vm/drop_caches']); // the kernel's dentries go: the walk asks again
      const { stdout } = await walk('find', [dir, '-exec', 'stat', '-c', '%s %n', '{}', '+'], { maxBuffer: 16 << 20 });
      const lines = stdout.trim().split('\n');
      assert.equal(lines.length, 1 + 40 + 40 * 25, 'every entry once');
      assert.ok(lines.some((l) => l === `6 ${join(dir, 'd39/f24')}`), 'a file with its size');
    }
    t.diagnostic(`requests taken by the wait: ${m.stats.spun - before} of ${m.stats.requests}`);
    assert.ok(m.stats.spun > before, `requests taken by the wait during the walks: ${m.stats.spun - before}`);
    assert.ok(m.stats.spun < m.stats.requests);
  });
});
