// One retry policy for full pulls and lazy reads, through the fault proxy in front of a real registry:
// mid-body connection drops and stalled bodies are retried alike by fetchBlob (resuming), by the range reads
// of lazy mounts (Repository.blobRange/blobRanges) and so by a LazyLayer reading a file; both give up after the
// same number of attempts; a stall fails after the read timeout with a message saying "timed out".
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { openEStargz } from '../../src/estargz/reader.js';
import type { TocFile } from '../../src/estargz/toc-node.js';
import { registryBlobSource } from '../../src/remote/registry-blob-source.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer } from '../../src/layer/lazy-layer.js';
import { MediaType } from '../../src/oci/media-types.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { openRegistry, type RegistryEndpoint, type RegistryOptions } from '../../src/remote/registry-endpoint.js';
import { buildFromTar } from '../estargz/helpers.js';
import { FIXTURE_CHUNK, fixtureFiles, fixtureTar } from '../estargz/fixture-layer.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { randomBlob, readStream, streamOf, type TestBlob } from './image-helpers.js';

describe('one retry policy for full pulls and lazy reads', () => {
  let reg: RegistryFixture;
  let proxy: FaultProxy;
  let work: string;
  const open: RegistryEndpoint[] = [];
  const big: TestBlob = randomBlob(1_000_000);
  const ep = (opts: RegistryOptions = {}) => {
    const e = openRegistry(`${proxy.host}/retry/app:v1`, { retryBaseMs: 1, retryMaxMs: 20, ...opts });
    open.push(e);
    return e;
  };
  const blobGets = () => proxy.stats.requests.filter((q) => q.method === 'GET' && q.path.includes(big.desc.digest));
  const ranges = [{ offset: 10, length: 100_000 }, { offset: 600_000, length: 300_000 }];
  const readRanges = (e: RegistryEndpoint) => e.repository.blobRanges(big.desc.digest, ranges);
  const rangesOk = (got: Buffer[]) => ranges.every((r, i) => got[i]!.equals(big.data.subarray(r.offset, r.offset + r.length)));

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-retry-policy-'));
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
    await ep().put(big.desc, streamOf(big.data));
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.stats.reset();
  });
  after(async () => {
    for (const e of open) await e.close();
    await proxy?.stop();
    await reg?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('three mid-body drops: the full pull resumes, and the lazy range reads are sent again, both succeed', async () => {
    const drops = proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 5000, times: 3 });
    assert.ok((await readStream(await ep().fetch(big.desc))).equals(big.data));
    assert.equal(drops.hits, 3);
    proxy.clearRules();
    const again = proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 5000, times: 3 });
    assert.ok(rangesOk(await readRanges(ep())), 'multi-range read');
    assert.equal(again.hits, 3);
    proxy.clearRules();
    const single = proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 5000, times: 3 });
    assert.ok((await ep().repository.blobRange(big.desc.digest, 1000, 200_000)).equals(big.data.subarray(1000, 201_000)), 'single-range read');
    assert.equal(single.hits, 3);
  });

  test('drops that never stop: full pull and lazy read give up after the same number of attempts', async () => {
    proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 5000 });
    const opts = { retries: 2 };
    await assert.rejects(async () => readStream(await ep(opts).fetch(big.desc)),
      (e: unknown) => isCtrError(e, 'Unavailable') && /after 3 attempts/.test(e.message) && e.message.includes(big.desc.digest));
    const full = blobGets().length;
    proxy.stats.reset();
    await assert.rejects(readRanges(ep(opts)),
      (e: unknown) => isCtrError(e, 'Unavailable') && /after 3 attempts/.test(e.message) && e.message.includes(big.desc.digest));
    const lazy = blobGets().length;
    assert.deepEqual([full, lazy], [3, 3], 'requests sent for the blob: full pull, lazy read');
  });

  test('a lazy layer reading a file through the registry survives three mid-body drops', async () => {
    const built = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const desc = { mediaType: MediaType.OciLayerGzip, digest: sha256Digest(built.blob), size: built.blob.length };
    await ep().put(desc, streamOf(built.blob));
    const toc = await openEStargz(new BufferRangeReader(built.blob));
    const cache = await ChunkCache.open({ dir: join(work, 'cache'), memoryMaxBytes: 0 });
    const layer = LazyLayer.open({
      layerDigest: desc.digest,
      blob: registryBlobSource(ep().repository, desc.digest, desc.size),
      index: toc.index,
      cache,
      prefetch: false,
      backgroundFetch: false,
    });
    try {
      const [name, content] = [...fixtureFiles()].sort((a, b) => b[1].length - a[1].length)[0]!;
      const drops = proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 100, times: 3 });
      const got = await layer.readFileRange(toc.lookup(name) as TocFile, 0, content.length);
      assert.ok(got.equals(content), `${name} read back`);
      assert.equal(drops.hits, 3);
      assert.equal(layer.stats().errors, 0);
    } finally {
      await layer.close();
    }
  });

  test('a body that stalls once is retried after the read timeout, by the full pull and by range reads', async () => {
    const opts = { readTimeoutMs: 400 };
    const stall = proxy.addRule({ method: 'GET', path: /\/blobs\//, stallAfterBytes: 4, times: 1 });
    assert.ok((await readStream(await ep(opts).fetch(big.desc))).equals(big.data));
    assert.equal(stall.hits, 1);
    proxy.clearRules();
    const again = proxy.addRule({ method: 'GET', path: /\/blobs\//, stallAfterBytes: 4, times: 1 });
    assert.ok(rangesOk(await readRanges(ep(opts))));
    assert.equal(again.hits, 1);
  });

  test('a registry that stalls for good fails after the read timeout: "timed out", naming host and blob', async () => {
    proxy.addRule({ method: 'GET', path: /\/blobs\//, stallAfterBytes: 4 });
    const opts = { readTimeoutMs: 400, retries: 1 };
    const t0 = Date.now();
    await assert.rejects(async () => readStream(await ep(opts).fetch(big.desc)), (e: unknown) => {
      assert.ok(isCtrError(e, 'Unavailable'), String(e));
      // 4 bytes, stall; the resumed request (bytes=4-) gets 4 more, stall: given up at byte 8
      assert.match(e.message, /timed out: no data for 0\.4 s at byte 8 of 1000000 after 2 attempts/);
      assert.ok(e.message.includes(proxy.host) && e.message.includes(big.desc.digest), e.message);
      return true;
    });
    await assert.rejects(readRanges(ep(opts)), (e: unknown) => {
      assert.ok(isCtrError(e, 'Unavailable'), String(e));
      assert.match(e.message, /timed out: no data for 0\.4 s after 2 attempts/);
      assert.ok(e.message.includes(proxy.host) && e.message.includes(big.desc.digest), e.message);
      return true;
    });
    assert.ok(Date.now() - t0 < 15_000, `gave up after ${Date.now() - t0} ms`);
  });

  test('a registry that accepts and never answers: "timed out" waiting for the response', async () => {
    proxy.addRule({ method: 'GET', path: /\/blobs\//, stallBeforeHeaders: true });
    await assert.rejects(ep({ timeoutMs: 400, retries: 1 }).repository.blobRange(big.desc.digest, 0, 100),
      (e: unknown) => isCtrError(e, 'Unavailable') && /timed out: no response within 0\.4 s after 2 attempts/.test(e.message) && e.message.includes(proxy.host));
  });
});
