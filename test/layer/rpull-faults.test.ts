// rpull against a faulty registry (the fault proxy in front of a real one): a transient failure while a TOC
// is read is retried and the layer stays lazy; a failure that persists fails the rpull with one line naming
// the layer and the cause, and downloads nothing; only a blob that really is not eStargz is pulled in full.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isCtrError } from '../../src/errors.js';
import { rpullImage } from '../../src/image/lazy/rpull.js';
import { Annotation } from '../../src/oci/media-types.js';
import { openStore } from '../../src/store/image-store.js';
import { cli } from '../cli/cli-harness.js';
import { buildFromTar } from '../estargz/helpers.js';
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
