// Push → resolve → fetch against a real registry (Debian's docker-registry), observed through the fault proxy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { openRegistry, type RegistryEndpoint } from '../../src/remote/registry-endpoint.js';
import { openBlobRangeReader } from '../../src/remote/blob-range-reader.js';
import { isCtrError } from '../../src/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { jsonBlob, randomBlob, readStream, streamOf, testImage } from './image-helpers.js';

describe('registry round trip', () => {
  let reg: RegistryFixture;
  let proxy: FaultProxy;
  const open: RegistryEndpoint[] = [];
  const ep = (repoTag: string, opts = {}) => {
    const e = openRegistry(`${proxy.host}/${repoTag}`, { retryBaseMs: 5, ...opts });
    open.push(e);
    return e;
  };
  const pushImage = async (e: RegistryEndpoint, img: ReturnType<typeof testImage>) => {
    for (const b of [img.config, ...img.layers]) await e.put(b.desc, streamOf(b.data));
    await e.put(img.manifest.desc, streamOf(img.manifest.data));
    await e.tag(img.manifest.desc, img.manifest.data);
  };

  before(async () => {
    reg = await startRegistry();
    proxy = await startFaultProxy(reg.url);
  });
  after(async () => {
    for (const e of open) await e.close();
    await proxy?.stop();
    await reg?.stop();
  });

  test('push, resolve, fetch: digests equal', async () => {
    const img = testImage([1234, 50_000]);
    const e = ep('rt/app:v1');
    await pushImage(e, img);
    const root = await e.resolve();
    assert.deepEqual(root, img.manifest.desc);
    const manifest = await readStream(await e.fetch(root));
    assert.equal(sha256Digest(manifest), img.manifest.desc.digest);
    for (const l of img.layers) {
      const data = await readStream(await e.fetch(l.desc));
      assert.equal(sha256Digest(data), l.desc.digest);
    }
    assert.equal(await e.has(img.layers[0]!.desc), true);
    assert.equal(await e.has(img.manifest.desc), true);
    assert.equal(await e.has(randomBlob(10).desc), false);
    // by digest reference too
    const byDigest = ep(`rt/app@${img.manifest.desc.digest}`);
    assert.deepEqual(await byDigest.resolve(), img.manifest.desc);
  });

  test('index manifests and Docker media types resolve with their own types', async () => {
    const img = testImage([100]);
    const e = ep('rt/multi:v1');
    await pushImage(e, img);
    const index = jsonBlob({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [{ ...img.manifest.desc, platform: { os: 'linux', architecture: 'amd64' } }] }, MediaType.OciIndex);
    await e.put(index.desc, streamOf(index.data));
    await e.tag(index.desc, index.data);
    assert.deepEqual(await e.resolve(), index.desc);
    const config = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }, MediaType.DockerConfig);
    await e.put(config.desc, streamOf(config.data));
    const dm = jsonBlob({ schemaVersion: 2, mediaType: MediaType.DockerManifest, config: config.desc, layers: [] }, MediaType.DockerManifest);
    const d = ep('rt/docker:v1');
    await d.put(config.desc, streamOf(config.data));
    await d.tag(dm.desc, dm.data);
    assert.deepEqual(await d.resolve(), dm.desc);
  });

  test('push skips blobs the registry has (HEAD)', async () => {
    const img = testImage([3000]);
    const e = ep('rt/skip:v1');
    await pushImage(e, img);
    proxy.stats.reset();
    const states: string[] = [];
    const again = ep('rt/skip:v2', { onProgress: (p: { state: string }) => states.push(p.state) });
    await pushImage(again, img);
    assert.deepEqual(states, ['skipped', 'skipped']);
    assert.ok(!proxy.stats.requests.some((r) => r.method === 'POST' || r.method === 'PATCH'), 'no upload was started');
  });

  test('cross-repository mount is used for a blob known in another repo', async () => {
    const img = testImage([4000]);
    const src = ep('rt/src:v1');
    await pushImage(src, img);
    proxy.stats.reset();
    const dst = ep('rt/dst:v1', { mountFrom: 'rt/src' });
    const layer = img.layers[0]!;
    const result = await dst.repository.pushBlob(layer.desc, streamOf(layer.data), { mountFrom: 'rt/src' });
    assert.equal(result, 'mounted');
    const post = proxy.stats.requests.find((r) => r.method === 'POST');
    assert.ok(post && post.path.includes(`mount=${encodeURIComponent(layer.desc.digest)}`) && post.path.includes('from=rt%2Fsrc'), post?.path);
    assert.ok(!proxy.stats.requests.some((r) => r.method === 'PUT' || r.method === 'PATCH'));
    assert.equal(await dst.repository.headBlob(layer.desc.digest), layer.desc.size);
    // an endpoint copying from another repo on the same registry mounts automatically
    const other = randomBlob(2000);
    await src.put(other.desc, streamOf(other.data));
    await readStream(await src.fetch(other.desc));
    proxy.stats.reset();
    await ep('rt/dst2:v1').put(other.desc, streamOf(other.data));
    assert.ok(proxy.stats.requests.some((r) => r.method === 'POST' && r.path.includes('mount=')));
  });

  test('large blobs are uploaded in PATCH chunks', async () => {
    const big = randomBlob(300_000);
    const e = ep('rt/chunked:v1', { uploadChunkSize: 64 * 1024 });
    proxy.stats.reset();
    await e.put(big.desc, streamOf(big.data, 10_000));
    const patches = proxy.stats.requests.filter((r) => r.method === 'PATCH');
    assert.equal(patches.length, Math.ceil(300_000 / (64 * 1024)));
    assert.equal(await e.repository.headBlob(big.desc.digest), 300_000);
    assert.ok((await readStream(await e.fetch(big.desc))).equals(big.data));
  });

  test('wrong content is refused before anything is stored', async () => {
    const b = randomBlob(5000);
    const e = ep('rt/bad:v1');
    await assert.rejects(e.put(b.desc, streamOf(randomBlob(5000).data)), (err: unknown) => isCtrError(err, 'DigestMismatch'));
    const chunked = ep('rt/bad:v2', { uploadChunkSize: 1024 });
    await assert.rejects(chunked.put(b.desc, streamOf(randomBlob(5000).data)), (err: unknown) => isCtrError(err, 'DigestMismatch'));
    assert.equal(await e.has(b.desc), false);
  });

  test('Range and multi-range reads', async () => {
    const b = randomBlob(100_000);
    const e = ep('rt/range:v1');
    await e.put(b.desc, streamOf(b.data));
    const repo = e.repository;
    assert.ok((await repo.blobRange(b.desc.digest, 1000, 500)).equals(b.data.subarray(1000, 1500)));
    proxy.stats.reset();
    const ranges = [{ offset: 0, length: 10 }, { offset: 5000, length: 3000 }, { offset: 99_990, length: 10 }, { offset: 7000, length: 0 }];
    const got = await repo.blobRanges(b.desc.digest, ranges);
    assert.deepEqual(got.map((x) => x.length), [10, 3000, 10, 0]);
    ranges.forEach((r, i) => assert.ok(got[i]!.equals(b.data.subarray(r.offset, r.offset + r.length)), `range ${i}`));
    assert.equal(proxy.stats.requests.length, 1, 'one multi-range request');
    assert.ok(proxy.stats.totalBytes < 4000, `only the ranges were sent (${proxy.stats.totalBytes} bytes)`);
    const reader = await openBlobRangeReader(repo, b.desc.digest);
    assert.equal(reader.size, 100_000);
    assert.ok((await reader.readAt(99_000, 5000)).equals(b.data.subarray(99_000)));
  });

  test('unknown repository, tag and blob → NotFound with the registry message', async () => {
    const img = testImage([10]);
    await pushImage(ep('rt/known:v1'), img);
    await assert.rejects(ep('rt/nope:v1').resolve(), (e: unknown) => isCtrError(e, 'NotFound') && /rt\/nope/.test(e.message) && /unknown/.test(e.message));
    await assert.rejects(ep('rt/known:missing').resolve(), (e: unknown) => isCtrError(e, 'NotFound') && /manifest unknown/.test(e.message));
    const blob = randomBlob(10);
    await assert.rejects(async () => readStream(await ep("rt/known:v1").fetch(blob.desc)), (e: unknown) => isCtrError(e, 'NotFound') && e.message.includes(blob.desc.digest));
    await assert.rejects(ep('rt/known:v1').repository.blobSize(blob.desc.digest), (e: unknown) => isCtrError(e, 'NotFound'));
  });
});
