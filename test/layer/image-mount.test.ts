// rpull + image mount end to end: a real registry behind the fault proxy, layers converted by the
// reference Go library plus one plain gzip layer, mounted with FUSE + overlayfs, compared with the same
// layers unpacked by GNU tar and merged by overlayfs; faults, bytes fetched, status and cleanup.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { imageStatus } from '../../src/image/lazy/status.js';
import { mountImage, cleanupDeadMounts, type MountedImage } from '../../src/image/lazy/mount.js';
import { rpullImage, type RpullResult } from '../../src/image/lazy/rpull.js';
import { TAIL_GUESS } from '../../src/service/toc-fetch.js';
import { listMountRecords } from '../../src/image/lazy/mount-record.js';
import { Annotation } from '../../src/oci/media-types.js';
import { DEFAULT_READ_AHEAD } from '../../src/layer/lazy-layer.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { makeFixtureTree, noise, setWholeSecondTimes } from '../fs/fixture-tree.js';
import { diffTrees, snapshotTree } from '../fs/tree-snapshot.js';
import { buildReferenceBlob, type ReferenceBlob } from './reference-estargz.js';
import { pushImage } from './push-image.js';
import { mountExpected } from './expected-overlay.js';
import { RootLayout } from '../../src/store/root-layout.js';
import { Context } from '../../src/image/context.js';

const run = promisify(execFile);
const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts, mknod/chown in fixture trees' : false;
const BIG = 8 << 20;

/** imageStatus once `done` holds of it, or the last one after 15 s (the caller's assertions then report what is missing). */
async function statusUntil(root: string, ref: string, done: (s: Awaited<ReturnType<typeof imageStatus>>) => boolean): Promise<Awaited<ReturnType<typeof imageStatus>>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const st = await imageStatus(new Context(root), ref);
    if (done(st) || Date.now() > deadline) return st;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('image rpull + mount', { skip }, () => {
  let work: string;
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  let refs: ReferenceBlob[];
  let plainTar: Buffer;
  let ref: string;
  let root: string;
  let pulled: RpullResult;
  let mounted: MountedImage;
  let mnt: string;
  let expected: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-remote-imgmount-'));
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    const t0 = join(work, 't0');
    await makeFixtureTree(t0, BIG);
    const t1 = join(work, 't1');
    await mkdir(join(t1, 'etc'), { recursive: true });
    await mkdir(join(t1, 'usr/share'), { recursive: true });
    await mkdir(join(t1, 'bin'), { recursive: true });
    await writeFile(join(t1, 'etc/.wh.hosts'), '');
    await writeFile(join(t1, 'usr/share/.wh..wh..opq'), '');
    await writeFile(join(t1, 'usr/share/new.txt'), 'new in layer 1\n');
    await writeFile(join(t1, 'bin/tool'), 'replaced tool\n');
    await writeFile(join(t1, 'bin/prio'), noise(40_000, 7));
    const t2 = join(work, 't2');
    await mkdir(join(t2, 'opt'), { recursive: true });
    await writeFile(join(t2, 'opt/plain.txt'), 'from a plain gzip layer\n');
    await setWholeSecondTimes(t1); // TOC modtimes have seconds precision (tar's PAX mtimes do not)
    await setWholeSecondTimes(t2);
    refs = [await buildReferenceBlob(t0, { chunkSize: 1 << 20 }), await buildReferenceBlob(t1, { prioritized: ['bin/prio'] })];
    await run('tar', ['--sort=name', '--numeric-owner', '-C', t2, '-cf', join(work, 't2.tar'), '.']);
    plainTar = await readFile(join(work, 't2.tar'));
    ref = `${proxy.host}/test/lazy:1`;
    await pushImage(`${registry.host}/test/lazy:1`, [
      ...refs.map((r) => ({ blob: r.blob, diffId: r.diffId, annotations: { [Annotation.TocDigest]: r.tocDigest } })),
      { blob: gzipSync(plainTar), diffId: `sha256:${createHash('sha256').update(plainTar).digest('hex')}` },
    ]);
    root = join(work, 'root');
    mnt = join(work, 'mnt');
    expected = await mountExpected(work, [...refs.map((r) => r.sourceTar), plainTar]);
  });

  after(async () => {
    await mounted?.unmount();
    if (expected) await run('umount', [expected]).catch(() => undefined);
    await proxy?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('rpull fetches only footers and TOCs of eStargz layers and says which layer is full and why', async () => {
    proxy.stats.reset();
    pulled = await rpullImage(new Context(root), ref, { registry: { plainHttp: true } });
    assert.deepEqual(pulled.layers.map((l) => l.mode), ['lazy', 'lazy', 'full']);
    assert.match(pulled.layers[2]!.reason ?? '', /no containerd\.io\/snapshot\/stargz\/toc\.digest annotation/);
    assert.equal(pulled.layers[0]!.tocDigest, refs[0]!.tocDigest);
    const lazyBlobBytes = [0, 1].reduce((n, i) => n + (proxy.stats.bytesByPath.get(`/v2/test/lazy/blobs/${pulled.layers[i]!.digest}`) ?? 0), 0);
    // one request per layer for its last TAIL_GUESS bytes (footer + TOC), a second one only for a larger TOC
    const tails = refs.reduce((n, r) => n + Math.max(r.blob.length - r.reader.tocOffset, Math.min(r.blob.length, TAIL_GUESS)), 0);
    assert.ok(lazyBlobBytes <= tails, `rpull fetched ${lazyBlobBytes} bytes of lazy blobs, tails are ${tails}`);
    const lazyRequests = proxy.stats.requests.filter((r) => r.method === 'GET' && pulled.layers.slice(0, 2).some((l) => r.path.includes(l.digest)));
    assert.equal(lazyRequests.length, 2, 'footer and TOC of each small layer in one request');
  });

  test('rpull refuses a layer whose TOC does not match its annotation', async () => {
    await pushImage(`${registry.host}/test/badtoc:1`, [{ blob: refs[1]!.blob, diffId: refs[1]!.diffId, annotations: { [Annotation.TocDigest]: refs[0]!.tocDigest } }]);
    await assert.rejects(rpullImage(new Context(join(work, 'root-bad')), `${proxy.host}/test/badtoc:1`, { registry: { plainHttp: true } }), (e: Error & { code?: string }) => e.code === 'DigestMismatch');
  });

  test('the mounted image equals the GNU-tar-unpacked layers merged by overlayfs', async () => {
    proxy.stats.reset();
    mounted = await mountImage(new Context(root), ref, mnt, { registry: { plainHttp: true }, noBackgroundFetch: true });
    assert.deepEqual(mounted.layers.map((l) => l.mode), ['lazy', 'lazy', 'full']);
    // layer 1's prefetch region, as rpull recorded it, is requested once (early, before its TOC is parsed
    // again) and the prefetch is served from that request; layer 0 has no prefetch region
    const span = pulled.layers[1]!.prefetch!;
    assert.equal(pulled.layers[0]!.prefetch, undefined);
    await mounted.layers[1]!.lazy!.prefetched();
    const layer1 = proxy.stats.requests.filter((r) => r.path.endsWith(pulled.layers[1]!.digest));
    assert.deepEqual(layer1.map((r) => r.range), [`bytes=${span.offset}-${span.offset + span.length - 1}`]);
    assert.equal(mounted.layers[1]!.lazy!.stats().prefetch.phase, 'done');
    assert.equal(mounted.layers[1]!.lazy!.stats().bytesFetched, span.length, 'the prefetch took its bytes from the early request');
    proxy.stats.reset();
    const got = await snapshotTree(mnt);
    const want = await snapshotTree(expected);
    assert.deepEqual(diffTrees(want, got, ['nlink']), []);
    assert.equal(got.has('etc/hosts'), false, 'whited out by layer 1');
    assert.equal(got.has('usr/share/doc'), false, 'hidden by the opaque dir of layer 1');
    assert.equal(await readFile(join(mnt, 'bin/tool'), 'utf8'), 'replaced tool\n');
    assert.equal(await readFile(join(mnt, 'opt/plain.txt'), 'utf8'), 'from a plain gzip layer\n');
    const records = await listMountRecords(new RootLayout(root));
    assert.equal(records.length, 1);
    assert.equal(records[0]!.dir, mnt);
  });

  test('status reports lazy/full per layer, bytes fetched and cache coverage', async () => {
    const st = await imageStatus(new Context(root), ref);
    assert.deepEqual(st.layers.map((l) => l.mode), ['lazy', 'lazy', 'full']);
    assert.deepEqual(st.mounts.map((m) => m.dir), [mnt]);
    // state files are written once a second: poll (a loaded machine can delay the write past a fixed sleep)
    const again = await statusUntil(root, ref, (st) => (st.layers[0]!.state?.bytesFetched ?? 0) > BIG && st.layers[0]!.cachedBytes! >= st.layers[0]!.totalBytes! - 64);
    const l0 = again.layers[0]!;
    assert.equal(l0.live, true);
    assert.ok((l0.state?.bytesFetched ?? 0) > BIG, `layer 0 fetched ${l0.state?.bytesFetched}`);
    // everything the walk could see is cached; what overlayfs hides (whited-out etc/hosts, the opaque
    // usr/share/doc, the landmark) was never read
    assert.ok(l0.cachedBytes! >= l0.totalBytes! - 64 && l0.cachedBytes! < l0.totalBytes!, `${l0.cachedBytes} of ${l0.totalBytes}`);
  });

  test('faults: corrupted bytes give EIO and nothing is cached; 5xx bursts, multi-range refusal and resets recover', async () => {
    await mounted.unmount();
    await rm(join(root, 'cache'), { recursive: true, force: true });
    // no read-ahead: each fault below must hit the fetch of the file read right after it is set up
    mounted = await mountImage(new Context(root), ref, mnt, { registry: { plainHttp: true, retryBaseMs: 10 }, noBackgroundFetch: true, readAheadBytes: 0 });
    await Promise.all(mounted.layers.map((l) => l.lazy?.prefetched()));
    const blobPath = /\/blobs\/sha256:/;
    const aConf = createHash('sha256').update('a=1\n'.repeat(1000)).digest('hex');
    const flip = proxy.addRule({ method: 'GET', path: blobPath, flipByteAt: 30 });
    await assert.rejects(readFile(join(mnt, 'etc/conf.d/a.conf')), { code: 'EIO' });
    proxy.removeRule(flip);
    assert.ok(!(await readdir(join(root, 'cache', 'chunks', 'sha256'))).includes(aConf), 'nothing corrupt was cached');
    assert.equal((await readFile(join(mnt, 'etc/conf.d/a.conf'), 'utf8')).length, 4000, 'a clean retry succeeds');

    const burst = proxy.addRule({ method: 'GET', path: blobPath, status: 503, times: 2 });
    assert.equal(await readFile(join(mnt, 'usr/share/new.txt'), 'utf8'), 'new in layer 1\n');
    assert.equal(burst.hits, 2);

    proxy.addRule({ method: 'GET', path: blobPath, rejectMultiRange: true });
    const big = await readFile(join(mnt, 'bin/big'));
    assert.equal(createHash('sha256').update(big).digest('hex'), createHash('sha256').update(noise(BIG, 1)).digest('hex'));
    proxy.clearRules();

    const slow = proxy.addRule({ method: 'GET', path: blobPath, delayMs: 300, bytesPerSec: 200_000 });
    assert.equal((await readFile(join(mnt, 'bin/prio'))).length, 40_000, 'slow responses still arrive');
    proxy.removeRule(slow);

    const full = proxy.addRule({ method: 'GET', path: blobPath, ignoreRange: true });
    // a registry answering 200 to a Range: the right bytes or EIO, never wrong bytes
    const tool = await readFile(join(mnt, 'usr/tool-hard2')).then((b) => createHash('sha256').update(b).digest('hex'), (e: NodeJS.ErrnoException) => e.code);
    assert.ok(tool === 'EIO' || tool === createHash('sha256').update(noise(3000, 2)).digest('hex'), String(tool));
    assert.ok(full.hits >= 1);
    proxy.removeRule(full);

    const reset = proxy.addRule({ method: 'GET', path: blobPath, resetAfterBytes: 10, times: 1 });
    const profile = await readFile(join(mnt, 'home/u/.profile'), 'utf8').then((s) => s, (e: NodeJS.ErrnoException) => e.code);
    assert.ok(profile === 'export A=1\n' || profile === 'EIO', String(profile));
    assert.equal(reset.hits, 1);
    proxy.clearRules();
    assert.equal(await readFile(join(mnt, 'home/u/.profile'), 'utf8'), 'export A=1\n', 'the server survived');
    const st = await imageStatus(new Context(root), ref);
    const mismatches = (s: Awaited<ReturnType<typeof imageStatus>>) => s.layers.reduce((n, l) => n + (l.state?.digestMismatches ?? 0), 0);
    const errors = mismatches(await statusUntil(root, ref, (s) => mismatches(s) >= 1)); // state files are written once a second
    assert.ok(errors >= 1, `digest mismatches reported: ${errors} (${JSON.stringify(st.layers.map((l) => l.state?.lastError))})`);
  });

  test('reading one small file fetches about its chunk, not the layer (proxy byte count)', async () => {
    await mounted.unmount();
    await rm(join(root, 'cache'), { recursive: true, force: true });
    mounted = await mountImage(new Context(root), ref, mnt, { registry: { plainHttp: true }, noBackgroundFetch: true });
    await mounted.layers[1]!.lazy!.prefetched();
    proxy.stats.reset();
    assert.equal(await readFile(join(mnt, 'etc/hosts.rel'), 'utf8').catch((e: NodeJS.ErrnoException) => e.code), 'ENOENT');
    assert.equal((await readFile(join(mnt, 'etc/conf.d/a.conf'), 'utf8')).length, 4000);
    const bytes = proxy.stats.totalBytes;
    // its member plus at most DEFAULT_READ_AHEAD of the members after it
    assert.ok(bytes < (16 << 10) + DEFAULT_READ_AHEAD, `fetched ${bytes} bytes for one 4 KB file of a ${refs[0]!.blob.length}-byte layer`);
  });

  test('prefetch: the prioritized file of layer 1 is local right after mount', async () => {
    proxy.stats.reset();
    assert.equal((await readFile(join(mnt, 'bin/prio'))).length, 40_000);
    assert.equal(proxy.stats.totalBytes, 0);
  });

  test('unmount takes everything down; a killed server is cleaned up by the next command', async () => {
    await mounted.unmount();
    assert.deepEqual(await listMountRecords(new RootLayout(root)), []);
    const { stdout } = await run('cat', ['/proc/self/mountinfo']);
    assert.ok(!stdout.includes(join(root, 'mounts')), 'no layer mount left');
    assert.ok(!stdout.includes(` ${mnt} `), 'no overlay left');
    assert.deepEqual(await cleanupDeadMounts(new RootLayout(root)), []);
  });
});
