// The stargz snapshotter: the conformance suite (the same behaviour as the overlay snapshotter), and the
// remote-snapshot protocol against a real registry with real FUSE mounts served by the lazy layer service:
// a Prepare with the stargz labels becomes a committed remote snapshot (Conflict, as containerd's unpacker
// expects), a container on top reads the layer lazily, a layer that is not eStargz falls back and says why,
// and a new instance (a restart) serves the remote layer again from its metadata.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { isCtrError } from '../../src/errors.js';
import { mountsUnder, readMounts } from '../../src/host/mountinfo.js';
import { unmountUnder } from '../../src/host/unmount.js';
import { mountSpecs } from '../../src/runtime/rootfs.js';
import { LayerService } from '../../src/service/layer-service.js';
import { REMOTE_LABEL, TARGET_LABEL, TOC_DIGEST_LABEL } from '../../src/snapshot/remote-labels.js';
import { StargzSnapshotter } from '../../src/snapshot/stargz-snapshotter.js';
import { encodeTar } from '../../src/tar/writer.js';
import { buildFooter } from '../../src/estargz/footer.js';
import { serializeTOC } from '../../src/estargz/toc-json.js';
import { TOC_TAR_NAME } from '../../src/estargz/toc-types.js';
import { prefetchSpan } from '../../src/estargz/prefetch-span.js';
import { buildFromTar } from '../estargz/helpers.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { pushImage } from '../layer/push-image.js';
import { snapshotterConformance } from './conformance.js';
import { RootLayout } from '../../src/store/root-layout.js';

const services: LayerService[] = [];
after(async () => {
  await Promise.all(services.map((s) => s.close()));
});

snapshotterConformance('stargz', async (dir) => {
  const service = new LayerService({ paths: new RootLayout(join(dir, '..', 'tool-root')) });
  services.push(service);
  return StargzSnapshotter.openStargz(dir, { remote: service });
});

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts' : false;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('remote snapshots over a real registry', { skip }, () => {
  let work: string;
  let registry: RegistryFixture;
  let ref: string;
  let lazyDigest: string;
  let tocDigest: string;
  let plainDigest: string;
  const hello = 'hello from a remote snapshot\n';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'stargz-snapshotter-'));
    registry = await startRegistry();
    const head = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 } as const;
    const tar = encodeTar([
      { header: { ...head, name: 'etc/', type: 'dir', mode: 0o755, size: 0 } },
      { header: { ...head, name: 'etc/motd', type: 'file', size: hello.length }, data: Buffer.from(hello) },
    ]);
    const built = await buildFromTar(tar);
    lazyDigest = sha(built.blob);
    tocDigest = built.tocDigest;
    const plainTar = encodeTar([{ header: { ...head, name: 'plain.txt', type: 'file', size: 2 }, data: Buffer.from('p\n') }]);
    const plain = gzipSync(plainTar);
    plainDigest = sha(plain);
    ref = `${registry.host}/snap/remote:1`;
    await pushImage(ref, [{ blob: built.blob, diffId: built.diffId }, { blob: plain, diffId: sha(plainTar) }]);
  });
  after(async () => {
    for (const m of (await mountsUnder(work)).reverse()) await unmountUnder(m).catch(() => undefined);
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });

  const labels = (target: string, digest: string, toc?: string) => ({
    [TARGET_LABEL]: target,
    'containerd.io/snapshot/remote/stargz.reference': ref,
    'containerd.io/snapshot/remote/stargz.digest': digest,
    ...(toc ? { [TOC_DIGEST_LABEL]: toc } : {}),
  });

  test('a Prepare with the labels becomes a lazily served committed snapshot; a container on top reads it; not-eStargz falls back saying why; a restart serves it again', async () => {
    const state = join(work, 'state');
    const root = join(work, 'tool-root');
    const fallbacks: string[] = [];
    const service = new LayerService({ paths: new RootLayout(root), registry: { plainHttp: true } });
    const s = await StargzSnapshotter.openStargz(state, { remote: service, onFallback: (target, _l, reason) => fallbacks.push(`${target}: ${reason instanceof Error ? reason.message : String(reason)}`) });
    try {
      await assert.rejects(s.prepare('extract-1 chain-a', undefined, { labels: labels('chain-a', lazyDigest, tocDigest) }), (e: unknown) => isCtrError(e, 'Conflict'));
      const info = await s.stat('chain-a');
      assert.equal(info.kind, 'committed');
      assert.equal(info.labels[REMOTE_LABEL], 'remote snapshot');
      await assert.rejects(s.stat('extract-1 chain-a'), (e: unknown) => isCtrError(e, 'NotFound'), 'no active snapshot is left behind');

      const rootfs = join(work, 'rootfs');
      await mountSpecs(await s.prepare('container-1', 'chain-a'), rootfs, join(work, 'links'));
      assert.equal(await readFile(join(rootfs, 'etc/motd'), 'utf8'), hello);
      const fuse = (await readMounts()).filter((m) => m.fsType === 'fuse.ctr-remote' && m.mountPoint.startsWith(state));
      assert.equal(fuse.length, 1, 'the layer is one FUSE mount inside the snapshot tree');
      await unmountUnder(rootfs);

      const mounts = await s.prepare('extract-2 chain-b', 'chain-a', { labels: labels('chain-b', plainDigest, tocDigest) });
      assert.ok(mounts.length > 0, 'a normal Prepare: containerd downloads and unpacks this layer');
      assert.equal(fallbacks.length, 1);
      assert.match(fallbacks[0] ?? '', /^chain-b: .*(not eStargz|not a readable eStargz blob)/);
      await s.remove('extract-2 chain-b');
    } finally {
      await service.close();
    }
    assert.equal((await readMounts()).filter((m) => m.fsType === 'fuse.ctr-remote' && m.mountPoint.startsWith(state)).length, 0, 'closing the service unmounts its layers');

    const again = new LayerService({ paths: new RootLayout(root), registry: { plainHttp: true } });
    const s2 = await StargzSnapshotter.openStargz(state, { remote: again });
    try {
      const rootfs = join(work, 'rootfs-2');
      await mkdir(rootfs, { recursive: true });
      await mountSpecs(await s2.mounts('container-1'), rootfs, join(work, 'links-2'));
      assert.equal(await readFile(join(rootfs, 'etc/motd'), 'utf8'), hello, 'after a restart the remote layer is served again from the metadata');
      await unmountUnder(rootfs);
      await s2.remove('container-1');
      await s2.remove('chain-a');
      assert.equal((await readMounts()).filter((m) => m.mountPoint.startsWith(state)).length, 0, 'removing a remote snapshot stops serving it');
    } finally {
      await again.close();
    }
  });

  test('two callers serving the same layer at once make one FUSE mount, and closing leaves none', async () => {
    const service = new LayerService({ paths: new RootLayout(join(work, 'tool-root')), registry: { plainHttp: true } });
    const dir = join(work, 'concurrent', 'fs');
    try {
      const layer = await service.check({ ref, digest: lazyDigest, tocDigest });
      // a restore and a Mounts RPC asking for the same layer in the same moment
      await Promise.all([service.mount([{ dir, layer }]), service.mount([{ dir, layer }])]);
      assert.equal((await readMounts()).filter((m) => m.mountPoint === dir).length, 1);
      assert.equal(await readFile(join(dir, 'etc/motd'), 'utf8'), hello);
      const served = service.declaredTotals();
      assert.ok(served.entries > 0 && served.bytes >= hello.length && served.bytes < 2 * hello.length, `counted once against the limits: ${JSON.stringify(served)}`);
      // a resident service mounts and unmounts layers all its life: what goes is given back to the limits
      await service.unmount(dir);
      assert.deepEqual(service.declaredTotals(), { entries: 0, bytes: 0 });
      await service.mount([{ dir, layer }]);
      assert.deepEqual(service.declaredTotals(), served);
      // counted, then failing: its mount point cannot be made (a regular file is in its path)
      await writeFile(join(work, 'concurrent', 'a-file'), 'x');
      await assert.rejects(service.mount([{ dir: join(work, 'concurrent', 'a-file', 'fs'), layer }]), /ENOTDIR|not a directory/);
      assert.deepEqual(service.declaredTotals(), served, 'a mount that failed counts nothing');
    } finally {
      await service.close();
    }
    assert.equal((await readMounts()).filter((m) => m.mountPoint === dir).length, 0);
  });

  test('a TOC fetched ahead (warm) is taken only by a check whose TOC digest it matches', async () => {
    const service = new LayerService({ paths: new RootLayout(join(work, 'warm-root')), registry: { plainHttp: true } });
    try {
      service.warm([{ ref, digest: lazyDigest }]);
      const wrong = `sha256:${'0'.repeat(64)}`;
      await assert.rejects(service.check({ ref, digest: lazyDigest, tocDigest: wrong }), (e: unknown) => isCtrError(e, 'DigestMismatch'));
      service.warm([{ ref, digest: lazyDigest }]);
      const ok = await service.check({ ref, digest: lazyDigest, tocDigest });
      assert.equal(ok.tocDigest, tocDigest);
      assert.ok(ok.size! > 0);
    } finally {
      await service.close();
    }
  });
});

describe('the resident service starts a layer at its check', { skip }, () => {
  let work: string;
  let registry: RegistryFixture;
  let proxy: FaultProxy;
  const head = { mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000 } as const;
  const first = Buffer.alloc(200_000, 'f');
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'stargz-resident-'));
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
  });
  after(async () => {
    for (const m of (await mountsUnder(work)).reverse()) await unmountUnder(m).catch(() => undefined);
    await proxy?.stop();
    await registry?.stop();
    await rm(work, { recursive: true, force: true });
  });
  const resident = (name: string) => new LayerService({
    paths: new RootLayout(join(work, name)), registry: { plainHttp: true }, startOnCheck: true, backgroundQuietMs: 1000, noBackgroundFetch: true,
  });

  /** Push an image of one eStargz layer whose prefetch region holds bin/first (`later`: bin/later's bytes, to make each image's layer its own). */
  async function pushPrioritized(repo: string, later: string) {
    const tar = encodeTar([
      { header: { ...head, name: 'bin/', type: 'dir', mode: 0o755, size: 0 } },
      { header: { ...head, name: 'bin/first', type: 'file', size: first.length }, data: first },
      { header: { ...head, name: 'bin/later', type: 'file', size: later.length }, data: Buffer.from(later) },
    ]);
    const built = await buildFromTar(tar, { prioritizedFiles: ['bin/first'] });
    const ref = `${proxy.host}/snap/${repo}:1`;
    await pushImage(ref, [{ blob: built.blob, diffId: sha(tar) }]);
    return { built, ref, digest: sha(built.blob) };
  }

  test('the prefetch region is requested from a guess on the TOC text (from byte 0), and the mount serves the prioritized file', async () => {
    const { built, ref, digest } = await pushPrioritized('resident', 'l\n!');
    const landmark = built.toc.entries.find((e) => e.name === '.prefetch.landmark')!.offset!;
    const service = resident('guess');
    const dir = join(work, 'guess', 'fs');
    try {
      proxy.stats.reset();
      const layer = await service.check({ ref, digest, tocDigest: built.tocDigest });
      await service.mount([{ dir, layer }]);
      assert.deepEqual((await readFile(join(dir, 'bin/first'))).equals(first), true);
      const ranges = proxy.stats.requests.filter((r) => r.path.includes(digest)).map((r) => r.range);
      assert.ok(ranges.includes(`bytes=0-${landmark - 1}`), `the guessed region was requested: ${JSON.stringify(ranges)}`);
      assert.equal(ranges.filter((r) => r?.startsWith('bytes=0-')).length, 1, 'once: the prefetch took its bytes from that request');
    } finally {
      await service.close();
    }
  });

  test('a layer fetched ahead (warm) has its prefetch region requested then; its check takes the request, the mount is served from it', async () => {
    const { built, ref, digest } = await pushPrioritized('warmed', 'w\n!');
    const span = prefetchSpan(built.toc.entries)!;
    const wanted = `bytes=${span.offset}-${span.offset + span.length - 1}`;
    const service = resident('warmed');
    const dir = join(work, 'warmed', 'fs');
    const ranges = () => proxy.stats.requests.filter((r) => r.path.includes(digest)).map((r) => r.range);
    try {
      proxy.stats.reset();
      service.warm([{ ref, digest }]);
      for (let i = 0; i < 200 && !ranges().includes(wanted); i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(ranges().includes(wanted), `the region was requested before any check: ${JSON.stringify(ranges())}`);
      const layer = await service.check({ ref, digest, tocDigest: built.tocDigest });
      await service.mount([{ dir, layer }]);
      assert.ok((await readFile(join(dir, 'bin/first'))).equals(first));
      await service.layerAt(dir)!.prefetched();
      const overlapping = ranges().filter((r) => {
        const m = /^bytes=(\d+)-(\d+)$/.exec(r ?? '');
        return m !== null && Number(m[1]) < span.offset + span.length && Number(m[2]) >= span.offset;
      });
      assert.deepEqual(overlapping, [wanted], 'the region\'s bytes were fetched once, by the request made at warm');
    } finally {
      await service.close();
    }
  });

  test('a region requested at warm is let go when the check refuses its TOC, and when the service closes', async () => {
    const { ref, digest } = await pushPrioritized('warm-refused', 'r\n!');
    const service = resident('warm-refused');
    try {
      service.warm([{ ref, digest }]);
      for (let i = 0; i < 200 && service.earlyBytesHeld() === 0; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(service.earlyBytesHeld() > 0, 'the region was requested at warm');
      await assert.rejects(service.check({ ref, digest, tocDigest: `sha256:${'0'.repeat(64)}` }), (e: unknown) => isCtrError(e, 'DigestMismatch'));
      assert.equal(service.earlyBytesHeld(), 0, 'a TOC the check refused: its request let go, its budget back');
      service.warm([{ ref, digest }]);
      for (let i = 0; i < 200 && service.earlyBytesHeld() === 0; i++) await new Promise((r) => setTimeout(r, 25));
      assert.ok(service.earlyBytesHeld() > 0);
    } finally {
      await service.close();
    }
    for (let i = 0; i < 40 && service.earlyBytesHeld() > 0; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(service.earlyBytesHeld(), 0, 'closing the service lets go of what no check took');
  });

  test('a TOC whose tree the index refuses: the check answers (it verified and checked the TOC), the mount fails saying why and leaves no mount', async () => {
    const json = serializeTOC({ version: 1, entries: [{ name: 'x', type: 'hardlink', linkName: 'nope' }] });
    const tocMember = gzipSync(encodeTar([{ header: { ...head, name: TOC_TAR_NAME, type: 'file', size: json.length }, data: json }]));
    const blob = Buffer.concat([tocMember, buildFooter(0)]);
    const ref = `${proxy.host}/snap/refused:1`;
    await pushImage(ref, [{ blob, diffId: sha(Buffer.alloc(1024)) }]);
    const service = resident('refused');
    const dir = join(work, 'refused', 'fs');
    try {
      const layer = await service.check({ ref, digest: sha(blob), tocDigest: sha(json) });
      assert.equal(layer.tocDigest, sha(json));
      await assert.rejects(service.mount([{ dir, layer }]), (e: unknown) => {
        assert.ok(isCtrError(e, 'InvalidArgument'), String(e));
        assert.match((e as Error).message, /"x" points to a missing entry "nope"/);
        return true;
      });
      assert.equal((await readMounts()).filter((m) => m.mountPoint === dir).length, 0);
    } finally {
      await service.close();
    }
  });
});

describe('mountOnPrepare: the mount runs beside the Prepare\'s answer', () => {
  /** RemoteLayers whose mounts wait for `release` (or fail with `failWith`). */
  function slowRemote() {
    let release: () => void = () => {};
    const released = new Promise<void>((r) => (release = r));
    const calls: string[][] = [];
    const remote = {
      failWith: undefined as Error | undefined,
      calls,
      release,
      check: async (layer: { ref: string; digest: string }) => ({ ...layer, size: 1000, tocDigest: 'sha256:toc' }),
      mount: async (items: readonly { dir: string }[]) => {
        calls.push(items.map((i) => i.dir));
        await released;
        if (remote.failWith) throw remote.failWith;
      },
      unmounted: [] as string[],
      unmount: async (dir: string) => void remote.unmounted.push(dir),
    };
    return remote;
  }
  const askLabels = (target: string) => ({
    [TARGET_LABEL]: target,
    'containerd.io/snapshot/remote/stargz.reference': 'registry.example/app:1',
    'containerd.io/snapshot/remote/stargz.digest': 'sha256:layer',
    [TOC_DIGEST_LABEL]: 'sha256:toc',
  });

  test('Prepare answers ALREADY_EXISTS while the mount is still under way; the end of the mount, or its failure, is reported; a later use mounts again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stargz-beside-'));
    try {
      const remote = slowRemote();
      const mounted: { target: string; error?: unknown }[] = [];
      const s = await StargzSnapshotter.openStargz(dir, {
        remote, mountOnPrepare: true,
        onMounted: (target, _l, _ms, error) => mounted.push({ target, ...(error ? { error } : {}) }),
      });
      const answer = s.prepare('extract-1', '', { labels: askLabels('layer-1') }).then(() => 'mounts', (e: unknown) => (isCtrError(e, 'Conflict') ? 'ALREADY_EXISTS' : String(e)));
      // (a Prepare that waited for the mount would never answer here: the mount is held until release)
      assert.equal(await Promise.race([answer, new Promise((r) => setTimeout(() => r('no answer within 10 s'), 10_000).unref())]), 'ALREADY_EXISTS');
      assert.equal(remote.calls.length, 1, 'the mount was asked for');
      assert.equal(mounted.length, 0, 'and the answer did not wait for it');
      assert.equal((await s.stat('layer-1')).kind, 'committed');
      remote.failWith = new Error('mount refused');
      remote.release();
      for (let i = 0; i < 100 && mounted.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(mounted.length, 1);
      assert.match(String((mounted[0]!.error as Error).message), /mount refused/);
      remote.failWith = undefined;
      await s.prepare('ctr', 'layer-1');
      assert.equal(remote.calls.length, 2, 'a container on top asks for the layer again');
      assert.deepEqual(remote.calls[1], remote.calls[0], 'the same directory');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('Remove asks the remote layers to unmount a remote snapshot\'s tree only, not that of any other', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stargz-remove-'));
    try {
      const remote = slowRemote();
      remote.release();
      const s = await StargzSnapshotter.openStargz(dir, { remote, mountOnPrepare: true });
      await s.prepare('extract-1', '', { labels: askLabels('layer-1') }).catch((e: unknown) => assert.ok(isCtrError(e, 'Conflict'), String(e)));
      await s.prepare('plain', '');
      await s.remove('plain');
      assert.deepEqual(remote.unmounted, [], 'a snapshot that serves no layer');
      await s.remove('layer-1');
      assert.equal(remote.unmounted.length, 1, 'the remote snapshot\'s tree');
      assert.deepEqual(remote.calls[0], [remote.unmounted[0]], 'the directory its layer was mounted at');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
