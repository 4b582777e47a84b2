// The serving thread's wait for the next request: when it waits (burst-spin.ts, from the times alone), and
// that the device stream's wait hands over exactly the request that came (device-stream.ts, over a FIFO,
// which libuv polls like /dev/fuse).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BurstSpin } from '../../src/fuse/burst-spin.js';
import { openDeviceStream } from '../../src/fuse/device-stream.js';

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
    const stream = openDeviceStream(f.fd, { onRequest: (r) => got.push(Buffer.from(r)), onEnd: () => {} });
    assert.ok(stream, 'the pipe binding polls a FIFO');
    try {
      assert.equal(stream.spin(2_000), false, 'nothing written: the wait ends without a request');
      assert.equal(got.length, 0);
      const a = request(7, 24);
      const b = request(9);
      writeSync(f.writer, Buffer.concat([a, b]));
      assert.equal(stream.spin(1_000_000), true);
      assert.deepEqual(got, [a, b], 'both requests of the read, split by their lengths, in order');
    } finally {
      stream.close();
    }
    assert.equal(stream.spin(1_000), false, 'a closed stream does not read');
  });
});
