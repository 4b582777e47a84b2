// An early range (src/content/early-range.ts) serves the reads inside it from bytes requested before anyone
// asked, exactly, and sends everything else, and whatever the early request did not deliver, to the blob itself;
// it holds at most its window, whatever the range's size.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import type { BlobRange, BlobSource } from '../../src/content/blob-source.js';
import { EarlyRange } from '../../src/content/early-range.js';

const BLOB = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 31 + (i >> 8)) & 0xff));

/** The blob in memory, streamed in 4 KiB pieces a tick apart; records every request; may fail a stream after `failAfter` bytes. */
function memorySource(o: { failAfter?: number; stream?: boolean } = {}) {
  const requests: { kind: string; range: BlobRange; aborted: () => boolean; reason: () => { code?: string } | undefined }[] = [];
  /** Bytes handed to the streams' takers so far. */
  const streamed = { bytes: 0 };
  const source: BlobSource = {
    size: BLOB.length,
    readRanges: async (ranges, opts) => {
      for (const r of ranges) requests.push({ kind: 'read', range: r, aborted: () => opts?.signal?.aborted ?? false, reason: () => opts?.signal?.reason as { code?: string } | undefined });
      await tick();
      return ranges.map((r) => Buffer.from(BLOB.subarray(r.offset, r.offset + r.length)));
    },
    ...(o.stream === false ? {} : {
      streamRange: async (r: BlobRange, onBytes: (b: Buffer) => void, opts?: { signal?: AbortSignal }) => {
        const signal = opts?.signal;
        requests.push({ kind: 'stream', range: r, aborted: () => signal?.aborted ?? false, reason: () => signal?.reason as { code?: string } | undefined });
        const first = requests.length === 1;
        for (let pos = r.offset, sent = 0; pos < r.offset + r.length; ) {
          await tick();
          if (signal?.aborted) throw signal.reason;
          if (first && o.failAfter !== undefined && sent >= o.failAfter) throw new Error('connection reset');
          const n = Math.min(4096, r.offset + r.length - pos);
          streamed.bytes += n;
          await onBytes(Buffer.from(BLOB.subarray(pos, pos + n))); // a taker's back-pressure is honoured
          pos += n;
          sent += n;
        }
      },
    }),
  };
  return { source, requests, streamed };
}

async function streamAll(src: BlobSource, r: BlobRange, signal?: AbortSignal): Promise<Buffer> {
  const parts: Buffer[] = [];
  await src.streamRange!(r, (b) => void parts.push(Buffer.from(b)), signal ? { signal } : {});
  return Buffer.concat(parts);
}

const slice = (r: BlobRange) => BLOB.subarray(r.offset, r.offset + r.length);

describe('EarlyRange', () => {
  test('the range and reads inside it are served from the one early request, exactly', async () => {
    const { source, requests } = memorySource();
    const span = { offset: 1000, length: 60_000 };
    let released = 0;
    const early = new EarlyRange(source, span, () => released++);
    const src = early.source();
    const [whole, inner, [a, b]] = await Promise.all([
      streamAll(src, span),
      streamAll(src, { offset: 30_000, length: 5000 }),
      src.readRanges([{ offset: 1000, length: 10 }, { offset: 60_000, length: 1000 }]),
    ]);
    assert.ok(whole.equals(slice(span)));
    assert.ok(inner.equals(slice({ offset: 30_000, length: 5000 })));
    assert.ok(a!.equals(slice({ offset: 1000, length: 10 })) && b!.equals(slice({ offset: 60_000, length: 1000 })));
    assert.deepEqual(requests.map((r) => r.range), [span], 'nothing but the early request reached the blob');
    assert.equal(released, 1, 'the bytes are dropped once a read has taken the whole range and no read is left');
    const [after] = await src.readRanges([{ offset: 2000, length: 10 }]);
    assert.ok(after!.equals(slice({ offset: 2000, length: 10 })));
    assert.equal(requests.length, 2, 'after that, reads go to the blob');
  });

  test('a read outside the range, or reaching past it, goes to the blob', async () => {
    const { source, requests } = memorySource();
    const early = new EarlyRange(source, { offset: 1000, length: 10_000 });
    const src = early.source();
    const [out] = await src.readRanges([{ offset: 50_000, length: 100 }]);
    assert.ok(out!.equals(slice({ offset: 50_000, length: 100 })));
    const across = await streamAll(src, { offset: 10_000, length: 2000 });
    assert.ok(across.equals(slice({ offset: 10_000, length: 2000 })));
    await early.settled;
    assert.deepEqual(requests.map((r) => r.range), [{ offset: 1000, length: 10_000 }, { offset: 50_000, length: 100 }, { offset: 10_000, length: 2000 }]);
  });

  test('an early request that fails midway: the rest comes from the blob, from the first byte it lacked', async () => {
    const { source, requests } = memorySource({ failAfter: 20_000 });
    const span = { offset: 0, length: 50_000 };
    const src = new EarlyRange(source, span).source();
    const got = await streamAll(src, span);
    assert.ok(got.equals(slice(span)), 'every byte once, in order');
    assert.equal(requests.length, 2);
    assert.deepEqual(requests[1]!.range, { offset: 20_480, length: 29_520 }, 'resumed at the byte reached (5 pieces of 4 KiB)');
    const viaRead = (await src.readRanges([{ offset: 40_000, length: 5000 }]))[0]!;
    assert.ok(viaRead.equals(slice({ offset: 40_000, length: 5000 })));
  });

  test('release stops the early request; later reads go to the blob; a blob without streaming is read whole', async () => {
    const { source, requests } = memorySource();
    const early = new EarlyRange(source, { offset: 0, length: 90_000 });
    await tick();
    early.release();
    await early.settled;
    assert.equal(requests[0]!.aborted(), true, 'the early request was aborted');
    assert.equal(requests[0]!.reason()?.code, 'Aborted', 'as a CtrError Aborted: a mirror list does not count it as a failed host');
    const got = await streamAll(early.source(), { offset: 100, length: 300 });
    assert.ok(got.equals(slice({ offset: 100, length: 300 })));
    assert.deepEqual(requests[1]!.range, { offset: 100, length: 300 });

    const plain = memorySource({ stream: false });
    const e2 = new EarlyRange(plain.source, { offset: 10, length: 5000 });
    assert.equal(e2.source().streamRange, undefined, 'no streaming where the blob has none');
    const [x] = await e2.source().readRanges([{ offset: 20, length: 100 }]);
    assert.ok(x!.equals(slice({ offset: 20, length: 100 })));
    assert.equal(plain.requests.length, 1, 'served from the early read');
  });

  test('a reader that gives up while waiting is rejected; the early request goes on for the others', async () => {
    const { source, requests } = memorySource();
    const span = { offset: 0, length: 80_000 };
    const early = new EarlyRange(source, span);
    const ac = new AbortController();
    const waiting = streamAll(early.source(), { offset: 70_000, length: 100 }, ac.signal);
    await tick();
    ac.abort();
    await assert.rejects(waiting, (e: unknown) => e instanceof Error && e.name === 'AbortError');
    assert.ok((await streamAll(early.source(), span)).equals(slice(span)));
    assert.equal(requests.length, 1);
  });

  test('a range larger than the window: at most the window is held, the request waits for a reader, each byte is served once', async () => {
    const { source, requests, streamed } = memorySource();
    const span = { offset: 0, length: 90_000 };
    const early = new EarlyRange(source, span, undefined, 10_000);
    for (let i = 0; i < 20; i++) await tick();
    assert.ok(early.held() <= 10_000 + 4096, `held ${early.held()} bytes with no reader`);
    const before = streamed.bytes;
    for (let i = 0; i < 10; i++) await tick();
    assert.equal(streamed.bytes, before, 'the early request waits while the window is full');
    let most = 0;
    const parts: Buffer[] = [];
    await early.source().streamRange!(span, (b) => {
      parts.push(Buffer.from(b));
      most = Math.max(most, early.held());
    });
    assert.ok(Buffer.concat(parts).equals(slice(span)), 'every byte once, in order');
    assert.ok(most <= 10_000 + 4096, `held at most ${most} bytes while the reader took them`);
    assert.deepEqual(requests.map((r) => r.range), [span], 'one request');
  });

  test('bytes behind the reader are let go: a later read of them goes to the blob; one ahead is served from the early request', async () => {
    const { source, requests } = memorySource();
    const span = { offset: 0, length: 60_000 };
    const early = new EarlyRange(source, span, undefined, 20_000);
    const src = early.source();
    const first = await streamAll(src, { offset: 0, length: 30_000 });
    assert.ok(first.equals(slice({ offset: 0, length: 30_000 })));
    const [behind] = await src.readRanges([{ offset: 1000, length: 500 }]);
    assert.ok(behind!.equals(slice({ offset: 1000, length: 500 })));
    assert.deepEqual(requests.slice(1).map((r) => r.range), [{ offset: 1000, length: 500 }], 'bytes let go are read from the blob');
    const ahead = await streamAll(src, { offset: 30_000, length: 30_000 });
    assert.ok(ahead.equals(slice({ offset: 30_000, length: 30_000 })));
    assert.equal(requests.length, 2, 'the rest came from the early request');
  });

  test('a read that starts in bytes let go: that part from the blob, the rest from the early request', async () => {
    const { source, requests } = memorySource();
    const span = { offset: 0, length: 80_000 };
    const early = new EarlyRange(source, span, undefined, 16_000);
    const src = early.source();
    assert.ok((await streamAll(src, { offset: 0, length: 40_000 })).equals(slice({ offset: 0, length: 40_000 })));
    const got = await streamAll(src, { offset: 20_000, length: 60_000 });
    assert.ok(got.equals(slice({ offset: 20_000, length: 60_000 })), 'every byte once, in order');
    assert.equal(requests.length, 2);
    const [blob] = requests.slice(1).map((r) => r.range);
    assert.equal(blob!.offset, 20_000);
    assert.ok(blob!.length > 0 && blob!.length <= 20_000, `only the bytes let go came from the blob: ${JSON.stringify(blob)}`);
  });

  test('a full window and one reader far ahead of it: the window is let go and the reader served, not left waiting', async () => {
    const { source, requests } = memorySource();
    const span = { offset: 0, length: 90_000 };
    const early = new EarlyRange(source, span, undefined, 10_000);
    for (let i = 0; i < 20; i++) await tick(); // the window fills
    const far = await streamAll(early.source(), { offset: 70_000, length: 20_000 });
    assert.ok(far.equals(slice({ offset: 70_000, length: 20_000 })));
    assert.equal(requests.length, 1, 'from the early request');
  });

  test('released while its request waits for room: the request ends, onRelease once, nothing held, reads go to the blob', async () => {
    const { source, requests } = memorySource();
    let released = 0;
    const early = new EarlyRange(source, { offset: 0, length: 90_000 }, () => released++, 10_000);
    for (let i = 0; i < 20; i++) await tick(); // the window fills; the request waits
    assert.ok(early.held() >= 10_000);
    early.release();
    early.release();
    await early.settled;
    assert.equal(released, 1);
    assert.equal(early.held(), 0);
    assert.equal(requests[0]!.aborted(), true);
    const got = await streamAll(early.source(), { offset: 500, length: 1000 });
    assert.ok(got.equals(slice({ offset: 500, length: 1000 })));
    assert.deepEqual(requests[1]!.range, { offset: 500, length: 1000 });
  });
});

