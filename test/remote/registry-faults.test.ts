// Fault injection against the real registry through the fault proxy: corruption, limits, 5xx, resets,
// Range fallbacks, refused HEAD.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { openRegistry, type RegistryEndpoint, type RegistryOptions } from '../../src/remote/registry-endpoint.js';
import { isCtrError } from '../../src/errors.js';
import { MediaType } from '../../src/oci/media-types.js';
import { openEStargz } from '../../src/estargz/reader.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { openBlobRangeReader } from '../../src/remote/blob-range-reader.js';
import { buildFromTar } from '../estargz/helpers.js';
import { FIXTURE_CHUNK, fixtureFiles, fixtureTar } from '../estargz/fixture-layer.js';
import { jsonBlob, randomBlob, readStream, streamOf, testImage, type TestBlob } from './image-helpers.js';

describe('registry faults', () => {
  let reg: RegistryFixture;
  let proxy: FaultProxy;
  const open: RegistryEndpoint[] = [];
  const img = testImage([2000]);
  const big: TestBlob = randomBlob(1_000_000);
  const ep = (repoTag = 'f/app:v1', opts: RegistryOptions = {}) => {
    const e = openRegistry(`${proxy.host}/${repoTag}`, { retryBaseMs: 1, retryMaxMs: 20, ...opts });
    open.push(e);
    return e;
  };

  before(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    const e = ep();
    for (const b of [img.config, ...img.layers, big]) await e.put(b.desc, streamOf(b.data));
    await e.tag(img.manifest.desc, img.manifest.data);
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.stats.reset();
  });
  after(async () => {
    for (const e of open) await e.close();
    await proxy?.stop();
    await reg?.stop();
  });

  test('corrupted manifest → DigestMismatch (by tag and by digest)', async () => {
    proxy.addRule({ method: 'GET', path: /\/manifests\//, flipByteAt: 20 });
    await assert.rejects(ep().repository.fetchManifest('v1'), (e: unknown) => isCtrError(e, 'DigestMismatch') && e.message.includes(img.manifest.desc.digest));
    await assert.rejects(async () => readStream(await ep().fetch(img.manifest.desc)), (e: unknown) => isCtrError(e, 'DigestMismatch'));
    proxy.addRule({ method: 'HEAD', path: /\/manifests\//, status: 405 });
    await assert.rejects(ep().resolve(), (e: unknown) => isCtrError(e, 'DigestMismatch'));
  });

  test('oversized manifest → LimitExceeded naming the limit', async () => {
    const huge = Buffer.alloc(5 << 20, 0x20);
    proxy.addRule({ method: 'GET', path: /\/manifests\//, replaceBody: huge });
    await assert.rejects(ep().repository.fetchManifest('v1'), (e: unknown) => isCtrError(e, 'LimitExceeded') && /4194304-byte/.test(e.message));
    await assert.rejects(ep().repository.fetchManifest({ ...img.manifest.desc, size: 5 << 20 }), (e: unknown) => isCtrError(e, 'LimitExceeded'));
  });

  test('a burst of 5xx and 429 is retried', async () => {
    const r1 = proxy.addRule({ method: 'GET', path: /\/blobs\//, status: 503, times: 2 });
    const r2 = proxy.addRule({ method: 'GET', path: /\/blobs\//, status: 429, nth: 3, headers: { 'retry-after': '0' } });
    const layer = img.layers[0]!;
    const data = await readStream(await ep().fetch(layer.desc));
    assert.ok(data.equals(layer.data));
    assert.equal(r1.hits, 2);
    assert.equal(r2.hits, 1);
    assert.equal(proxy.stats.requests.length, 4);
  });

  test('503 forever → Unavailable after the bounded retries', async () => {
    const r = proxy.addRule({ path: /\/manifests\//, status: 503 });
    const t0 = Date.now();
    await assert.rejects(ep('f/app:v1', { retries: 3 }).resolve(), (e: unknown) => isCtrError(e, 'Unavailable') && /503/.test(e.message) && e.message.includes('f/app'));
    assert.equal(r.hits, 4 + 4, 'HEAD then GET, each 1 + 3 retries');
    assert.ok(Date.now() - t0 < 5000);
  });

  test('connection refused → Unavailable after retries', async () => {
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const e = openRegistry(`127.0.0.1:${port}/x:1`, { retries: 2, retryBaseMs: 1 });
    open.push(e);
    await assert.rejects(e.resolve(), (err: unknown) => isCtrError(err, 'Unavailable') && /ECONNREFUSED/.test(err.message) && /3 attempts/.test(err.message));
  });

  test('a connection reset mid-body resumes with a Range request', async () => {
    const r = proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 300_000, times: 2 });
    const data = await readStream(await ep().fetch(big.desc));
    assert.ok(data.equals(big.data));
    assert.equal(r.hits, 2);
    const ranged = proxy.stats.requests.filter((q) => q.range);
    // Each resume starts where the client's received bytes end: at most the 300 000 bytes the proxy sent
    // before its reset (a reset may discard bytes still in flight), and past the previous resume point.
    const offsets = ranged.map((q) => /^bytes=(\d+)-$/.exec(q.range ?? '')?.[1]).map(Number);
    assert.equal(offsets.length, 2, `two resumed requests, got ${JSON.stringify(ranged.map((q) => q.range))}`);
    let previous = 0;
    for (const o of offsets) {
      assert.ok(o > previous && o <= previous + 300_000, `resume offset ${o} after ${previous}`);
      previous = o;
    }
  });

  test('a truncated body resumes; truncated forever → Unavailable', async () => {
    proxy.addRule({ method: 'GET', path: /\/blobs\//, truncateAfterBytes: 1000, times: 1 });
    assert.ok((await readStream(await ep().fetch(big.desc))).equals(big.data));
    proxy.clearRules();
    proxy.addRule({ method: 'GET', path: /\/blobs\//, truncateAfterBytes: 1000 });
    await assert.rejects(async () => readStream(await ep().fetch(big.desc)), (e: unknown) => isCtrError(e, 'Unavailable') && /ended at/.test(e.message));
  });

  test('multi-range refused with 400 → one covering range, remembered', async () => {
    const r = proxy.addRule({ rejectMultiRange: true });
    const repo = ep().repository;
    const ranges = [{ offset: 10, length: 10 }, { offset: 500_000, length: 100 }];
    for (let i = 0; i < 2; i++) {
      const got = await repo.blobRanges(big.desc.digest, ranges);
      ranges.forEach((x, j) => assert.ok(got[j]!.equals(big.data.subarray(x.offset, x.offset + x.length))));
    }
    assert.deepEqual(proxy.stats.requests.map((q) => [q.status, q.range]), [
      [400, 'bytes=10-19,500000-500099'], [206, 'bytes=10-500099'], [206, 'bytes=10-500099'],
    ]);
    assert.ok(r.hits >= 3);
  });

  test('a multi-range answer far longer than the ranges asked for → LimitExceeded, not held; a body shorter than its Content-Length is retried', async () => {
    const repo = ep().repository;
    const ranges = [{ offset: 10, length: 10 }, { offset: 2000, length: 100 }];
    proxy.addRule({ method: 'GET', path: /\/blobs\//, replaceBody: Buffer.alloc(4 << 20, 0x2d) });
    await assert.rejects(repo.blobRanges(big.desc.digest, ranges), (e: unknown) => isCtrError(e, 'LimitExceeded') && /longer than the ranges asked for/.test(e.message));
    proxy.clearRules();
    proxy.stats.reset();
    proxy.addRule({ method: 'GET', path: /\/blobs\//, truncateAfterBytes: 50_000, times: 1 });
    const one = await repo.blobRange(big.desc.digest, 100_000, 200_000);
    assert.ok(one.equals(big.data.subarray(100_000, 300_000)));
    assert.equal(proxy.stats.requests.filter((q) => q.path.includes('/blobs/')).length, 2, 'the short body was read again');
  });

  test('Range ignored (200 full body): blobRanges and blobRange stream it and keep only the wanted bytes', async () => {
    proxy.addRule({ ignoreRange: true });
    const repo = ep().repository;
    const got = await repo.blobRanges(big.desc.digest, [{ offset: 1, length: 2 }, { offset: 999_990, length: 10 }]);
    assert.ok(got[0]!.equals(big.data.subarray(1, 3)) && got[1]!.equals(big.data.subarray(999_990)));
    assert.ok((await repo.blobRange(big.desc.digest, 0, 10)).equals(big.data.subarray(0, 10)));
    assert.ok((await repo.blobRange(big.desc.digest, 999_000, 1000)).equals(big.data.subarray(999_000)));
    const overlapping = await repo.blobRanges(big.desc.digest, [{ offset: 400_000, length: 5000 }, { offset: 402_000, length: 10 }, { offset: 0, length: 0 }]);
    assert.ok(overlapping[0]!.equals(big.data.subarray(400_000, 405_000)) && overlapping[1]!.equals(big.data.subarray(402_000, 402_010)));
    assert.equal(overlapping[2]!.length, 0);
    assert.ok(proxy.stats.requests.every((q) => q.status === 200), 'every answer was a full body');
  });

  test('blobTail: the tail and the blob size in one suffix-Range request; with Range ignored, a HEAD and a Range read', async () => {
    const repo = ep().repository;
    const t = await repo.blobTail(big.desc.digest, 4096);
    assert.equal(t.size, big.data.length);
    assert.ok(t.data.equals(big.data.subarray(-4096)));
    assert.deepEqual(proxy.stats.requests.map((q) => [q.method, q.status, q.range]), [['GET', 206, 'bytes=-4096']]);
    const small = img.layers[0]!;
    const whole = await repo.blobTail(small.desc.digest, 1 << 20);
    assert.equal(whole.size, small.data.length, 'a suffix longer than the blob gives all of it');
    assert.ok(whole.data.equals(small.data));
    proxy.stats.reset();
    proxy.addRule({ ignoreRange: true, method: 'GET' });
    const again = await repo.blobTail(big.desc.digest, 4096);
    assert.equal(again.size, big.data.length);
    assert.ok(again.data.equals(big.data.subarray(-4096)));
    assert.deepEqual(proxy.stats.requests.map((q) => [q.method, q.status]), [['GET', 200], ['HEAD', 200], ['GET', 200]]);
  });

  test('blobRangeStream: bytes handed over as they come, each once; a reset body resumes from the next byte', async () => {
    const repo = ep().repository;
    const parts: Buffer[] = [];
    proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 300_000, times: 1 });
    await repo.blobRangeStream(big.desc.digest, 1000, 900_000, (b) => void parts.push(Buffer.from(b)));
    const got = Buffer.concat(parts);
    assert.equal(got.length, 900_000);
    assert.ok(got.equals(big.data.subarray(1000, 901_000)), 'the bytes, in order, none twice');
    assert.ok(parts.length > 1, 'handed over in pieces');
    const ranges = proxy.stats.requests.map((q) => q.range);
    assert.equal(ranges[0], 'bytes=1000-900999');
    assert.equal(ranges.length, 2, `one resumed request: ${ranges.join(' ')}`);
    const resumedAt = Number(/^bytes=(\d+)-900999$/.exec(ranges[1] ?? '')?.[1]);
    assert.ok(resumedAt > 1000 && resumedAt <= 301_000, `resumed from the first byte not received (${ranges[1]})`);
    proxy.clearRules();
    proxy.addRule({ ignoreRange: true });
    const full: Buffer[] = [];
    await repo.blobRangeStream(big.desc.digest, 5, 10, (b) => void full.push(Buffer.from(b)));
    assert.ok(Buffer.concat(full).equals(big.data.subarray(5, 15)), 'Range ignored: the wanted bytes only');
  });

  test('blobRangeStream: a taker that returns a promise gets no more bytes until it settles, and the body is not read meanwhile', async () => {
    const large = randomBlob(24 << 20);
    await ep().put(large.desc, streamOf(large.data));
    const repo = ep().repository;
    proxy.stats.reset();
    const parts: Buffer[] = [];
    let hold: (() => void) | undefined;
    const streaming = repo.blobRangeStream(large.desc.digest, 0, large.data.length, (b) => {
      parts.push(Buffer.from(b));
      if (parts.length > 1) return undefined;
      return new Promise<void>((resolve) => (hold = resolve)); // the first piece holds the body back
    });
    while (!hold) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 300)); // unread, the whole body would be through the proxy by now
    const whileHeld = { calls: parts.length, bytes: proxy.stats.totalBytes };
    hold();
    await streaming;
    assert.equal(whileHeld.calls, 1, 'nothing handed over while the taker held the stream back');
    // what got through meanwhile is what the client's body buffer and the sockets hold, not the body
    assert.ok(whileHeld.bytes < 16 << 20, `the proxy sent ${whileHeld.bytes} of ${large.data.length} bytes while the stream was held`);
    assert.ok(Buffer.concat(parts).equals(large.data), 'then the rest, in order, each byte once');
  });

  test('Range ignored on a 48 MiB blob: reads near its start abandon the rest of the body', async () => {
    const huge = randomBlob(48 << 20);
    await ep().put(huge.desc, streamOf(huge.data));
    proxy.stats.reset();
    proxy.addRule({ ignoreRange: true });
    const repo = ep().repository;
    const before = process.memoryUsage().arrayBuffers;
    const one = await repo.blobRange(huge.desc.digest, 4096, 65536);
    const many = await repo.blobRanges(huge.desc.digest, [{ offset: 10, length: 100 }, { offset: 100_000, length: 4096 }]);
    assert.ok(one.equals(huge.data.subarray(4096, 4096 + 65536)));
    assert.ok(many[0]!.equals(huge.data.subarray(10, 110)) && many[1]!.equals(huge.data.subarray(100_000, 104_096)));
    assert.deepEqual(proxy.stats.requests.map((q) => q.status), [200, 200]);
    const growth = process.memoryUsage().arrayBuffers - before;
    assert.ok(growth < 24 << 20, `buffers grew by ${growth} bytes reading two small ranges`);
    const sent = proxy.stats.totalBytes;
    assert.ok(sent < huge.data.length / 4, `the proxy sent ${sent} bytes for two reads; the bodies were not abandoned`);
  });

  test('Range ignored: an eStargz blob still opens and reads through a BlobRangeReader (the lazy mount\'s path)', async () => {
    const built = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const desc = { mediaType: MediaType.OciLayerGzip, digest: sha256Digest(built.blob), size: built.blob.length };
    await ep().put(desc, streamOf(built.blob));
    proxy.addRule({ ignoreRange: true });
    const reader = await openBlobRangeReader(ep().repository, desc.digest, { size: desc.size });
    const toc = await openEStargz(reader, { tocDigest: built.tocDigest });
    for (const [name, content] of fixtureFiles()) {
      const e = toc.lookup(name);
      assert.ok(e, name);
      assert.ok((await toc.readFile(e, 0, content.length)).equals(content), name);
    }
    assert.ok(proxy.stats.requests.some((q) => q.method === 'GET' && q.status === 200), 'the registry answered full bodies');
  });

  test('HEAD refused → size from Content-Range of a bytes=0-1 GET', async () => {
    proxy.addRule({ method: 'HEAD', path: /\/blobs\//, status: 405 });
    assert.equal(await ep().repository.blobSize(big.desc.digest), 1_000_000);
    assert.ok(proxy.stats.requests.some((q) => q.method === 'GET' && q.range === 'bytes=0-1'));
  });

  test('malformed manifest JSON still verifies by digest; wrong media type from the server is not trusted', async () => {
    const bad = jsonBlob({ schemaVersion: 2 }, MediaType.OciManifest);
    proxy.addRule({ method: 'GET', path: /\/manifests\//, replaceBody: bad.data });
    await assert.rejects(ep().repository.fetchManifest(img.manifest.desc), (e: unknown) => isCtrError(e, 'DigestMismatch'));
  });

  test('abort signal cancels a slow download', async () => {
    proxy.addRule({ method: 'GET', path: /\/blobs\//, bytesPerSec: 100_000 });
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 100);
    await assert.rejects(async () => readStream(await ep().fetch(big.desc, ac.signal)), (e: unknown) => (e as Error).name === 'AbortError');
    clearTimeout(t);
  });
});
