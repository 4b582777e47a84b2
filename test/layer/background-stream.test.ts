// The background fetch of a lazy layer from a real registry, streamed into the chunk cache
// (lazy-layer.ts streamToDisk, estargz/member-stream.ts), with faults injected by the proxy in front of it:
// a connection reset mid-body resumes from the next byte; a corrupted byte never reaches the cache.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { openEStargz, type EStargzReader } from '../../src/estargz/reader.js';
import { TocFile, type Member } from '../../src/estargz/toc-node.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer } from '../../src/layer/lazy-layer.js';
import { newBudgets } from '../../src/layer/layer-budgets.js';
import { MediaType } from '../../src/oci/media-types.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { registryBlobSource } from '../../src/remote/registry-blob-source.js';
import { openRegistry } from '../../src/remote/registry-endpoint.js';
import type { TarHeader } from '../../src/tar/header.js';
import { encodeTar } from '../../src/tar/writer.js';
import { buildFromTar } from '../estargz/helpers.js';
import { noise } from '../estargz/fixture-layer.js';
import { streamOf } from '../remote/image-helpers.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';

const CHUNK = 64 << 10;

describe('background fetch from a registry, streamed into the cache', () => {
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let work: string;
  let blob: Buffer;
  let digest: string;
  let reader: EStargzReader;
  const files = new Map<string, Buffer>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-bgstream-'));
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    // big incompressible files (several 64 KiB members each) and a directory of small ones
    for (let i = 0; i < 6; i++) files.set(`bin/f${i}`, noise(3 * CHUNK + 1000 * i, 100 + i));
    for (let i = 0; i < 30; i++) files.set(`etc/small/s${i}`, noise(2000 + i, 200 + i));
    const entries: { header: TarHeader; data?: Buffer }[] = [];
    const dir = (name: string): TarHeader => ({ name, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 1_600_000_000 });
    entries.push({ header: dir('bin/') }, { header: dir('etc/') }, { header: dir('etc/small/') });
    for (const [name, data] of files) entries.push({ header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 1_600_000_000 }, data });
    const built = await buildFromTar(encodeTar(entries), { chunkSize: CHUNK });
    blob = built.blob;
    digest = sha256Digest(blob);
    const pusher = openRegistry(`${registry.host}/bg/stream:1`, {});
    await pusher.put({ mediaType: MediaType.OciLayerGzip, digest, size: blob.length }, streamOf(blob));
    await pusher.close();
    reader = await openEStargz(new BufferRangeReader(blob));
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  async function open(name: string) {
    const cacheDir = join(work, name);
    const cache = await ChunkCache.open({ dir: cacheDir, maxBytes: 1 << 30, memoryMaxBytes: 0 });
    const client = openRegistry(`${proxy.host}/bg/stream:1`, {});
    const layer = LazyLayer.open({
      layerDigest: digest,
      blob: registryBlobSource(client.repository, digest, blob.length),
      index: reader.index, cache, prefetch: false, backgroundFetch: true, idleMs: 0, backgroundBatchBytes: 256 << 10, budgets: newBudgets(),
    });
    return { layer, cache, cacheDir, client };
  }
  const file = (name: string): TocFile => {
    const e = reader.lookup(name);
    assert.ok(e instanceof TocFile, name);
    return e;
  };
  const members = (): Member[] => reader.index.members.filter((m) => m.chunks.some((c) => c.digest));
  const dataEnd = () => Math.max(...members().map((m) => m.end));
  const blobBytes = () => [...proxy.stats.bytesByPath].filter(([p]) => p.includes('/blobs/')).reduce((n, [, b]) => n + b, 0);

  test('a connection reset in the middle of a stream resumes from the next byte; every chunk is stored, none counted bad', async () => {
    proxy.clearRules();
    proxy.stats.reset();
    const reset = proxy.addRule({ method: 'GET', path: /\/blobs\//, resetAfterBytes: 100_000, times: 1 });
    const { layer, cache, cacheDir, client } = await open('reset');
    try {
      await layer.backgroundDone();
      const st = layer.stats();
      assert.equal(reset.hits, 1, 'the reset happened');
      assert.equal(st.background.phase, 'done');
      assert.equal(st.errors, 0, st.lastError?.message);
      assert.ok(members().every((m) => m.chunks.every((c) => cache.has(c.digest!))), 'every chunk is in the cache');
      // resumed, not started again: the bytes sent exceed the data by less than the 100,000 sent before the reset
      assert.ok(blobBytes() < dataEnd() + 50_000, `${blobBytes()} bytes sent for ${dataEnd()} bytes of data`);
      assert.deepEqual(await readdir(join(cacheDir, 'chunks', 'tmp')), []);
      const before = proxy.stats.requests.length;
      for (const [name, want] of files) assert.deepEqual(await layer.readFileRange(file(name), 0, want.length), want, name);
      assert.equal(proxy.stats.requests.length, before, 'the reads fetched nothing');
    } finally {
      await layer.close();
      await client.close();
    }
  });

  test('a byte corrupted in a stream: the member it hits is not stored and is counted; a later read fetches it again, right', async () => {
    proxy.clearRules();
    proxy.stats.reset();
    const victim = file('bin/f0').chunks[1]!.member; // inside the first 256 KiB batch
    const first = members()[0]!;
    // the first stream starts at the first member: flip a byte in the middle of the victim's bytes
    const flip = proxy.addRule({ method: 'GET', path: /\/blobs\//, flipByteAt: victim.offset - first.offset + Math.floor((victim.end - victim.offset) / 2), times: 1 });
    const { layer, cache, cacheDir, client } = await open('corrupt');
    try {
      await layer.backgroundDone();
      const st = layer.stats();
      assert.equal(flip.hits, 1);
      assert.ok(st.digestMismatches >= 1, `digest mismatches: ${st.digestMismatches}`);
      assert.ok(!victim.chunks.some((c) => cache.has(c.digest!)), 'the corrupted member is not stored');
      const others = members().filter((m) => m !== victim);
      assert.ok(others.every((m) => m.chunks.every((c) => cache.has(c.digest!))), 'every other member is');
      assert.deepEqual(await readdir(join(cacheDir, 'chunks', 'tmp')), []);
      const want = files.get('bin/f0')!;
      assert.deepEqual(await layer.readFileRange(file('bin/f0'), 0, want.length), want);
      assert.ok(victim.chunks.every((c) => cache.has(c.digest!)), 'stored once fetched right');
    } finally {
      await layer.close();
      await client.close();
    }
  });
});
