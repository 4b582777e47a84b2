// Verified consumption of layer blobs: a corrupt blob is reported as DigestMismatch even when the
// decompressor or tar reader fails on it first, a source error ends decompression with that error (never
// an unhandled 'error' event), and a blob is hashed to its end even when its consumer stops early.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { CtrError, isCtrError } from '../../src/errors.js';
import { decompressLayer } from '../../src/oci/layer-decompress.js';
import { consumeVerified } from '../../src/content/verified-stream.js';
import { MediaType } from '../../src/oci/media-types.js';

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function* pieces(b: Buffer, size = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

const drainAll = async (chunks: AsyncIterable<Buffer>) => {
  for await (const _ of chunks);
};

describe('decompressLayer', () => {
  test("a failing source ends the output with the source's own error, not an unhandled 'error' event", { timeout: 10_000 }, async () => {
    const gz = gzipSync(randomBytes(200_000));
    const failure = new CtrError('DigestMismatch', 'source says no');
    async function* source(): AsyncGenerator<Buffer> {
      yield gz.subarray(0, 50_000);
      throw failure;
    }
    let unhandled: unknown;
    const onUncaught = (e: unknown) => (unhandled = e);
    process.on('uncaughtException', onUncaught);
    try {
      await assert.rejects(drainAll(decompressLayer(MediaType.OciLayerGzip, source(), 'L')), (e) => e === failure);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    assert.equal(unhandled, undefined);
  });

  test('bad gzip from a good source is InvalidArgument naming the layer', async () => {
    await assert.rejects(drainAll(decompressLayer(MediaType.OciLayerGzip, pieces(Buffer.from('not gzip at all')), 'sha256:abc')), (e) => isCtrError(e, 'InvalidArgument') && /layer sha256:abc: not valid gzip/.test(e.message));
  });
});

describe('consumeVerified', () => {
  const blob = gzipSync(randomBytes(300_000));
  const desc = { digest: digestOf(blob), size: blob.length };
  const corrupt = Buffer.from(blob);
  corrupt[100] = corrupt[100]! ^ 0xff; // early in the deflate stream: the decompressor trips long before the end

  test('a decompressor failing on a corrupt blob surfaces as DigestMismatch', async () => {
    await assert.rejects(
      consumeVerified(desc, pieces(corrupt), (chunks) => drainAll(decompressLayer(MediaType.OciLayerGzip, chunks, 'L'))),
      (e) => isCtrError(e, 'DigestMismatch') && e.message.includes(desc.digest),
    );
  });

  test("a consumer's error on a good blob stays its own", async () => {
    const mine = new CtrError('InvalidArgument', 'consumer rejects it');
    await assert.rejects(
      consumeVerified(desc, pieces(blob), async (chunks) => {
        for await (const _ of chunks) throw mine;
      }),
      (e) => e === mine,
    );
  });

  test('a consumer that stops early still gets the whole blob verified', async () => {
    const last = Buffer.from(blob);
    last[last.length - 1] = last[last.length - 1]! ^ 0xff;
    const firstOnly = async (chunks: AsyncIterable<Buffer>) => {
      for await (const c of chunks) return c.length;
      return 0;
    };
    assert.equal(await consumeVerified(desc, pieces(blob), firstOnly), 4096);
    await assert.rejects(consumeVerified(desc, pieces(last), firstOnly), (e) => isCtrError(e, 'DigestMismatch'));
  });

  test('an abort is rethrown without reading the rest of the blob', async () => {
    const ac = new AbortController();
    let read = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const c of pieces(corrupt)) {
        read += c.length;
        yield c;
      }
    }
    await assert.rejects(
      consumeVerified(desc, counted(), async (chunks) => {
        for await (const _ of chunks) {
          ac.abort();
          ac.signal.throwIfAborted();
        }
      }, ac.signal),
      (e) => (e as Error).name === 'AbortError',
    );
    assert.ok(read < corrupt.length, `read ${read} of ${corrupt.length}`);
  });
});
