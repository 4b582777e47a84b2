// rpull against a faulty registry (the fault proxy in front of a real one): a transient failure while a TOC
// is read is retried and the layer stays lazy; a failure that persists fails the rpull with one line naming
// the layer and the cause, and downloads nothing; only a blob that really is not eStargz is pulled in full.
// And the toc.tail-size annotation: footer and TOC in one request; a wrong value costs a request, never the layer.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isCtrError } from '../../src/errors.js';
import { rpullImage } from '../../src/image/lazy/rpull.js';
import { Annotation } from '../../src/oci/media-types.js';
import { openStore } from '../../src/store/image-store.js';
import { cli } from '../cli/cli-harness.js';
import { buildFromTar, gnuTar } from '../estargz/helpers.js';
import { tocTailSize } from '../../src/estargz/toc-tail.js';
import { TAIL_GUESS } from '../../src/service/toc-fetch.js';
import { FIXTURE_CHUNK, fixtureTar } from '../estargz/fixture-layer.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { pushImage } from './push-image.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { Context } from '../../src/image/context.js';

describe('rpull: reading TOCs from a faulty registry', () => {
  let work: string;
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let layerDigest: string;
  let n = 0;
  const ref = () => `${proxy.host}/faults/esgz:1`;
  const root = () => join(work, `root-${++n}`);
  const fast = { plainHttp: true, retryBaseMs: 1, retryMaxMs: 10 };
  /** A rule matching the Range GETs of the layer blob (TOC reads), not a full download of it. */
  const tocReads = () => ({ method: 'GET', path: new RegExp(`/blobs/${layerDigest}`), when: (_: number, req: { headers: { range?: string } }) => req.headers.range !== undefined });
  const fullDownloads = () => proxy.stats.requests.filter((q) => q.method === 'GET' && q.path.includes(layerDigest) && q.range === undefined);

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-rpull-faults-'));
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    const tar = fixtureTar();
    const built = await buildFromTar(tar, { chunkSize: FIXTURE_CHUNK });
    const pushed = await pushImage(`${registry.host}/faults/esgz:1`, [{ blob: built.blob, diffId: built.diffId, annotations: { [Annotation.TocDigest]: built.tocDigest } }]);
    layerDigest = pushed.layers[0]!.digest;
    // a plain gzip layer that claims to be eStargz: its footer does not parse
    await pushImage(`${registry.host}/faults/plain:1`, [{ blob: gzipSync(tar), diffId: built.diffId, annotations: { [Annotation.TocDigest]: built.tocDigest } }]);
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.stats.reset();
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('connection resets while the TOC is read are retried: the layer stays lazy, nothing is downloaded in full', async () => {
    const resets = proxy.addRule({ ...tocReads(), resetAfterBytes: 1000, times: 2 });
    const r = await rpullImage(new Context(root()), ref(), { registry: fast });
    assert.deepEqual(r.layers.map((l) => [l.mode, l.reason]), [['lazy', undefined]]);
    assert.equal(resets.hits, 2);
    assert.deepEqual(fullDownloads(), []);
  });

  test('a 5xx burst while the TOC is read is retried: the layer stays lazy', async () => {
    const burst = proxy.addRule({ ...tocReads(), status: 503, times: 2 });
    const r = await rpullImage(new Context(root()), ref(), { registry: fast });
    assert.equal(r.layers[0]!.mode, 'lazy');
    assert.equal(burst.hits, 2);
  });

  test('a failure that persists fails the rpull naming the layer and the cause; no full download, no image', async () => {
    proxy.addRule({ ...tocReads(), status: 503 });
    const dir = root();
    await assert.rejects(rpullImage(new Context(dir), ref(), { registry: { ...fast, retries: 2 } }), (e: unknown) => {
      assert.ok(isCtrError(e, 'Unavailable'), String(e));
      assert.match(e.message, new RegExp(`layer 0 \\(${layerDigest.slice(0, 19)}\\): reading its TOC: .*registry unavailable \\(HTTP 503\\)`));
      return true;
    });
    assert.deepEqual(fullDownloads(), [], 'a registry failure is not a reason to download the layer');
    assert.equal(await (await openStore(new RootLayout(dir))).has(layerDigest), false);
    assert.equal(await (await openStore(new RootLayout(dir))).find(`${proxy.host}/faults/esgz:1`), undefined, 'no image named');
  });

  test('the CLI reports a persistent failure as one line and exit 1', async () => {
    proxy.addRule({ ...tocReads(), resetAfterBytes: 10 });
    const r = await cli(['--root', root(), 'image', 'rpull', '--plain-http', ref()]);
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, new RegExp(`^ctr-remote: rpull ${ref()}: layer 0 \\(${layerDigest.slice(0, 19)}\\): reading its TOC: .*after 5 attempts$`));
    assert.doesNotMatch(r.stdout, /full/);
  });

  test('a blob that is not eStargz (its footer does not parse) is pulled in full, saying why', async () => {
    const r = await rpullImage(new Context(root()), `${proxy.host}/faults/plain:1`, { registry: fast });
    assert.equal(r.layers[0]!.mode, 'full');
    assert.match(r.layers[0]!.reason ?? '', /^not a readable eStargz blob: /);
  });
});

describe('rpull: the toc.tail-size annotation', () => {
  let work: string;
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let built: Awaited<ReturnType<typeof buildFromTar>>;
  let layerDigest = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-rpull-tail-'));
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    // 1,500 files with random names: a compressed TOC well over the 64 KiB the first request reads unadvised
    const tree = join(work, 'tree');
    await mkdir(tree);
    for (let i = 0; i < 1500; i++) await writeFile(join(tree, randomBytes(12).toString('hex')), randomBytes(8));
    built = await buildFromTar(gnuTar(tree));
    assert.ok(built.blobSize - built.tocStart > TAIL_GUESS + 1024, `the TOC (${built.blobSize - built.tocStart} bytes with its footer) is larger than the unadvised first request`);
    const tail = tocTailSize(built.blobSize, built.tocStart);
    for (const [tag, annotation] of [['plain', undefined], ['advised', tail], ['short', '200'], ['long', String(built.blobSize * 10)]] as const) {
      const pushed = await pushImage(`${registry.host}/tail/esgz:${tag}`, [{ blob: built.blob, diffId: built.diffId, annotations: { [Annotation.TocDigest]: built.tocDigest, ...(annotation ? { [Annotation.TocTailSize]: annotation } : {}) } }]);
      layerDigest = pushed.layers[0]!.digest;
    }
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** rpull `tag`; the Range requests of the layer blob it made and the bytes they returned. */
  async function rpullRanges(tag: string): Promise<{ requests: number; bytes: number }> {
    proxy.stats.reset();
    const r = await rpullImage(new Context(join(work, `root-${tag}`)), `${proxy.host}/tail/esgz:${tag}`, { registry: { plainHttp: true } });
    assert.deepEqual(r.layers.map((l) => [l.mode, l.tocDigest]), [['lazy', built.tocDigest]], tag);
    const reads = proxy.stats.requests.filter((q) => q.method === 'GET' && q.path.includes(layerDigest));
    assert.ok(reads.every((q) => q.range !== undefined), `${tag}: only Range requests of the layer`);
    return { requests: reads.length, bytes: reads.reduce((n, q) => n + q.bytes, 0) };
  }

  test('a large TOC comes in one request when the annotation sizes it, in two without', async () => {
    const plain = await rpullRanges('plain');
    assert.equal(plain.requests, 2, 'footer with the first 64 KiB, then the rest of the TOC');
    const advised = await rpullRanges('advised');
    assert.equal(advised.requests, 1, 'footer and TOC together');
    assert.ok(advised.bytes <= built.blobSize - built.tocStart + 64, `no more than the TOC, the footer and a few bytes before (${advised.bytes})`);
  });

  test('a wrong annotation costs a request or some bytes, never the layer: the footer says where the TOC is', async () => {
    assert.equal((await rpullRanges('short')).requests, 2, 'too small: the rest of the TOC is asked for');
    const long = await rpullRanges('long');
    assert.equal(long.requests, 1);
    assert.ok(long.bytes <= built.blobSize, 'too large: bounded by the blob');
  });
});
