// Two lazy layers of one image fetching from a real registry through a shaped link (fault proxy): with a
// shared BackgroundGate, layer A's background fetch must not start before layer B's prefetch has finished;
// without it (each layer judging quietness alone) it does, which is what the gate is for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackgroundGate } from '../../src/layer/background-gate.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer } from '../../src/layer/lazy-layer.js';
import { openRegistry, type RegistryEndpoint } from '../../src/remote/registry-endpoint.js';
import { registryBlobSource } from '../../src/remote/registry-blob-source.js';
import { startFaultProxy, type FaultProxy, type RequestRecord } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { buildReferenceBlob, type ReferenceBlob } from './reference-estargz.js';
import { pushImage } from './push-image.js';

/** Deterministic incompressible bytes. */
function noise(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

const digestOf = (r: ReferenceBlob) => `sha256:${createHash('sha256').update(r.blob).digest('hex')}`;

describe('BackgroundGate across two lazy layers over a shaped registry link', () => {
  let work: string;
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let endpoint: RegistryEndpoint;
  let a: ReferenceBlob; // no prefetch region: background fetch only
  let b: ReferenceBlob; // a 3 MiB prefetch region
  const ref = () => `${proxy.host}/gate/img:1`;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-gate-'));
    const ta = join(work, 'a');
    const tb = join(work, 'b');
    await mkdir(join(ta, 'data'), { recursive: true });
    await mkdir(join(tb, 'app'), { recursive: true });
    for (let i = 0; i < 8; i++) await writeFile(join(ta, 'data', `f${i}`), noise(256 << 10, 100 + i));
    await writeFile(join(tb, 'app', 'prio'), noise(3 << 20, 7));
    await writeFile(join(tb, 'app', 'rest'), noise(256 << 10, 8));
    a = await buildReferenceBlob(ta, { chunkSize: 256 << 10 });
    b = await buildReferenceBlob(tb, { chunkSize: 1 << 20, prioritized: ['app/prio'] });
    registry = await startRegistry();
    await pushImage(`${registry.host}/gate/img:1`, [{ blob: a.blob, diffId: a.diffId }, { blob: b.blob, diffId: b.diffId }]);
    // 8 MB/s shared by all responses, 5 ms per request: B's prefetch takes ~0.4 s on its own.
    proxy = await startFaultProxy(registry.url, { link: { rttMs: 5, bytesPerSec: 8_000_000 } });
    endpoint = openRegistry(ref(), { plainHttp: true });
  });
  after(async () => {
    await endpoint?.close();
    await proxy?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Open A then B (as mountImageLayers does, base first), let everything finish; return the blob GETs of each. */
  async function run(gate: BackgroundGate | undefined) {
    proxy.stats.reset();
    const cache = await ChunkCache.open({ dir: await mkdtemp(join(work, 'cache-')), maxBytes: 1 << 30 });
    const open = (r: ReferenceBlob) =>
      LazyLayer.open({
        layerDigest: digestOf(r),
        blob: registryBlobSource(endpoint.repository, digestOf(r), r.blob.length),
        index: r.reader.index,
        cache,
        backgroundBatchBytes: 512 << 10,
        ...(gate ? { gate } : {}),
      });
    const la = open(a);
    const lb = open(b);
    gate?.seal();
    await Promise.all([la.prefetched(), lb.prefetched(), la.backgroundDone(), lb.backgroundDone()]);
    assert.equal(la.stats().background.phase, 'done');
    assert.equal(lb.stats().prefetch.phase, 'done');
    await Promise.all([la.close(), lb.close()]);
    const gets = (r: ReferenceBlob): RequestRecord[] =>
      proxy.stats.requests.filter((q) => q.method === 'GET' && q.path.includes(digestOf(r)) && q.range !== undefined);
    return { aGets: gets(a), bGets: gets(b) };
  }

  test('with a gate, no background range request of A starts before B\'s prefetch request has finished', async () => {
    const { aGets, bGets } = await run(new BackgroundGate());
    const prefetch = bGets[0];
    assert.ok(prefetch?.durationMs !== undefined, 'B sent its prefetch request');
    assert.ok(prefetch.bytes >= 3 << 20, `B's first request is the prefetch region (${prefetch.bytes} bytes)`);
    const prefetchEnd = prefetch.startedAt + prefetch.durationMs;
    assert.ok(aGets.length >= 4, `A fetched its blob in the background (${aGets.length} requests)`);
    for (const q of aGets) {
      assert.ok(q.startedAt >= prefetchEnd, `A's ${q.range} started ${prefetchEnd - q.startedAt} ms before B's prefetch ended`);
    }
  });

  test('without a gate (per-layer quietness), A\'s background fetch overlaps B\'s prefetch', async () => {
    const { aGets, bGets } = await run(undefined);
    const prefetch = bGets[0];
    assert.ok(prefetch?.durationMs !== undefined);
    const first = aGets[0];
    assert.ok(first, 'A fetched in the background');
    assert.ok(first.startedAt < prefetch.startedAt + prefetch.durationMs, 'the ungated layers share the link');
  });
});

describe('BackgroundGate alone', () => {
  test('background waits for seal and every prefetch, then for image-wide quiet after the last leave()', async () => {
    const gate = new BackgroundGate({ idleMs: 40 });
    let release!: () => void;
    gate.addPrefetch(new Promise<void>((r) => (release = r)));
    let done = false;
    const waiting = gate.prefetchesDone().then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false, 'not sealed, prefetch running');
    gate.seal();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(done, false, 'sealed, prefetch still running');
    release();
    await waiting;

    gate.enter(); // a foreground read of some layer
    let idle = false;
    const started = Date.now();
    const idleWait = gate.waitIdle().then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(idle, false, 'a read in flight holds background fetch');
    const left = Date.now(); // taken before leave(), which stamps the gate's clock: a pause in between can't shorten the wait seen
    gate.leave();
    await idleWait;
    assert.ok(Date.now() - left >= 40, `waited the quiet period after the read (${Date.now() - left} ms)`);
    assert.ok(Date.now() - started >= 99);
  });

  test('waitIdle and prefetchesDone reject when their signal aborts', async () => {
    const gate = new BackgroundGate();
    const ac = new AbortController();
    gate.enter();
    const w = gate.waitIdle(ac.signal);
    const p = gate.prefetchesDone(ac.signal); // never sealed
    ac.abort(new Error('closed'));
    await assert.rejects(w, /closed/);
    await assert.rejects(p, /closed/);
  });
});
