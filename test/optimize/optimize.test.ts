// `image optimize` end to end (root; real FUSE, overlayfs, runc, registry): a multi-layer busybox image
// whose workload reads two small files next to a 30 MB payload it never touches. The record names
// exactly the opened files; the optimized layers put them before `.prefetch.landmark` (checked with our
// reader and verified by the reference Go library); the untouched layer starts with
// `.no.prefetch.landmark`; the record file drives `convert --estargz-record-in` to the same layer order;
// `rpull` + `run` of the pushed result through a counting proxy fetches the prefetch region, not the payload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { openEStargz } from '../../src/estargz/reader.js';
import { FileRangeReader } from '../../src/content/file-range-reader.js';
import type { Manifest } from '../../src/oci/types.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { cli, MAIN } from '../cli/cli-harness.js';
import { buildGoHarness, goVerify } from '../estargz/helpers.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { tarEntryNames } from './image-parts.js';

const skip = process.getuid?.() !== 0 ? 'needs root: FUSE and overlayfs mounts, runc containers' : false;
const PAYLOAD = 30 << 20;
const WORKLOAD = ['/bin/sh', '-c', 'cat /data/a.txt /app/b.txt'];

interface LayerToc {
  digest: string;
  names: string[];
}

/** Entry names (TOC order) of every layer of image `tag` in layout `dir`, verified against toc.digest. */
async function layerTocs(dir: string, tag: string): Promise<LayerToc[]> {
  const layout = await openLayout(dir);
  const desc = await layout.get(tag);
  const manifest = JSON.parse((await layout.readBytes(desc.digest, 1 << 20)).toString()) as Manifest;
  const out: LayerToc[] = [];
  for (const l of manifest.layers) {
    const r = await FileRangeReader.open(layout.blobPath(l.digest));
    try {
      const tocDigest = l.annotations?.['containerd.io/snapshot/stargz/toc.digest'];
      assert.ok(tocDigest, `layer ${l.digest} has a toc.digest annotation`);
      const rd = await openEStargz(r, { tocDigest });
      out.push({ digest: l.digest, names: rd.toc.entries.map((e) => e.name.replace(/^\.\//, '').replace(/\/$/, '')) });
    } finally {
      await r.close();
    }
  }
  return out;
}

describe('image optimize', { skip }, () => {
  let tmp = '';
  let root = '';
  let layout = '';
  let image: BuiltImage;
  let registry: RegistryFixture | undefined;
  let proxy: FaultProxy | undefined;
  let expected: { path: string; layerIndex: number }[] = [];

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'ctr-optimize-'));
    root = join(tmp, 'root');
    layout = join(tmp, 'src');
    image = await buildImage(layout, 'src', {
      layers: [
        { busybox: true },
        { entries: [{ path: 'data/a.txt', type: 'file', content: 'A from layer 1\n' }, { path: 'data/payload.bin', type: 'file', content: randomBytes(PAYLOAD) }] },
        { entries: [{ path: 'app/b.txt', type: 'file', content: 'B from layer 2\n' }, { path: 'app/unread.txt', type: 'file', content: 'never read\n' }] },
        { entries: [{ path: 'opt/unused.txt', type: 'file', content: 'nobody opens me\n' }] },
      ],
      config: { Cmd: WORKLOAD },
    });
    // What the run opens, computed from the base layer: runc reads the image's passwd and group, then
    // /bin/sh is a symlink to the busybox binary, which then opens the two files.
    const base = await tarEntryNames(image.layers[0]!.tar);
    const shTarget = base.links.get('bin/sh') ?? 'bin/sh';
    const busybox = shTarget.startsWith('/') ? shTarget.slice(1) : join('bin', shTarget);
    const runcReads = ['etc/passwd', 'etc/group'].filter((p) => base.files.has(p));
    expected = [...runcReads.map((path) => ({ path, layerIndex: 0 })), { path: busybox, layerIndex: 0 }, { path: 'data/a.txt', layerIndex: 1 }, { path: 'app/b.txt', layerIndex: 2 }];
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    for (const m of (await mountsUnder(tmp)).reverse()) await execa('umount', ['-l', m], { reject: false });
    await rm(tmp, { recursive: true, force: true });
  });

  const ctr = (args: string[]) => cli(['--root', root, ...args]);
  const out = () => join(tmp, 'optimized');
  const record = () => join(tmp, 'record.json');

  test('the record names the opened files; they come before .prefetch.landmark; the untouched layer gets .no.prefetch.landmark', async () => {
    const r = await ctr(['image', 'optimize', '--oci', '--json', '--record-out', record(), `oci:${layout}:src`, `oci:${out()}:opt`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /A from layer 1\nB from layer 2\n/, 'the workload output is shown (on stderr with --json)');
    const json = JSON.parse(r.stdout) as { digest: string; optimized: { manifestDigest: string }; workload: { ended: string; exitCode: number } };
    assert.deepEqual(json.workload, { ended: 'exit', exitCode: 0 });
    assert.equal(json.optimized.manifestDigest, image.manifestDigest);
    const lines = (await readFile(record(), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { path: string; manifestDigest: string; layerIndex: number });
    assert.deepEqual(lines.map(({ path, layerIndex }) => ({ path, layerIndex })), expected);
    assert.ok(lines.every((l) => l.manifestDigest === image.manifestDigest), 'manifestDigest is the source manifest');
    assert.equal((await (await openLayout(out())).get('opt')).digest, json.digest);

    const tocs = await layerTocs(out(), 'opt');
    for (const [i, toc] of tocs.entries()) {
      const mine = expected.filter((e) => e.layerIndex === i).map((e) => e.path);
      if (mine.length === 0) {
        assert.equal(toc.names[0], '.no.prefetch.landmark', `layer ${i} was not accessed`);
        assert.ok(!toc.names.includes('.prefetch.landmark'));
        continue;
      }
      const landmark = toc.names.indexOf('.prefetch.landmark');
      assert.ok(landmark > 0, `layer ${i} has .prefetch.landmark`);
      const before = toc.names.slice(0, landmark).filter((n) => mine.includes(n));
      assert.deepEqual(before, mine, `layer ${i}: accessed files first, in access order`);
    }
    assert.ok(tocs[1]!.names.indexOf('data/payload.bin') > tocs[1]!.names.indexOf('.prefetch.landmark'), 'the payload is not prefetched');
    assert.ok(tocs[2]!.names.indexOf('app/unread.txt') > tocs[2]!.names.indexOf('.prefetch.landmark'));
    assert.deepEqual(await mountsUnder(root), [], 'nothing left mounted');
    assert.deepEqual(await readdirOrEmpty(join(root, 'containers')), [], 'the temporary container is gone');
    assert.deepEqual(await readdirOrEmpty(join(root, 'optimize')), [], 'the staging area is gone');
  });

  test('the reference Go library verifies the optimized layers', async () => {
    const bin = await buildGoHarness(join(tmpdir(), 'ctr-remote-go-estargz-optimize'));
    const layoutDir = await openLayout(out());
    const manifest = JSON.parse((await layoutDir.readBytes((await layoutDir.get('opt')).digest, 1 << 20)).toString()) as Manifest;
    for (const l of manifest.layers) {
      const res = goVerify(bin, layoutDir.blobPath(l.digest), l.annotations!['containerd.io/snapshot/stargz/toc.digest']!);
      assert.ok(res.files.length > 0);
    }
    const layer1 = goVerify(bin, layoutDir.blobPath(manifest.layers[1]!.digest), manifest.layers[1]!.annotations!['containerd.io/snapshot/stargz/toc.digest']!);
    const order = layer1.order.map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
    assert.ok(order.indexOf('data/a.txt') < order.indexOf('.prefetch.landmark'), 'the reference sees a.txt in the prefetch region');
  });

  test('the record file fed to convert --estargz-record-in gives the same layer order', async () => {
    const again = join(tmp, 'converted');
    const r = await ctr(['image', 'convert', '--estargz', '--oci', '--estargz-record-in', record(), `oci:${layout}:src`, `oci:${again}:conv`]);
    assert.equal(r.code, 0, r.stderr);
    // As in the reference, convert applies the whole list to every layer: a layer without accesses gets
    // `.prefetch.landmark` first there and `.no.prefetch.landmark` first from optimize; the rest is equal.
    const noLandmark = (names: string[]) => names.filter((n) => n !== '.prefetch.landmark' && n !== '.no.prefetch.landmark');
    const a = await layerTocs(out(), 'opt');
    const b = await layerTocs(again, 'conv');
    assert.equal(b.length, a.length);
    for (const [i, t] of a.entries()) {
      if (t.names[0] === '.no.prefetch.landmark') assert.deepEqual(noLandmark(b[i]!.names), noLandmark(t.names), `layer ${i}`);
      else assert.deepEqual(b[i]!.names, t.names, `layer ${i}`);
    }
    assert.equal(a.filter((t) => t.names[0] === '.no.prefetch.landmark').length, 1, 'one layer without accesses');
  });

  test('pushed, rpulled and run through a counting proxy: the prefetch region is fetched, not the payload', async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    const local = 'test/optimized:1';
    assert.equal((await ctr(['image', 'tag', `oci:${out()}:opt`, local])).code, 0);
    const pushed = await ctr(['image', 'push', `${registry.host}/test/optimized:1`, local]);
    assert.equal(pushed.code, 0, pushed.stderr);
    const ref = `${proxy.host}/test/optimized:1`;
    proxy.stats.reset();
    const pulled = await ctr(['image', 'rpull', ref]);
    assert.equal(pulled.code, 0, pulled.stderr);
    const run = await runProcess(['--root', root, 'run', '--rm', '--no-background-fetch', ref, 'opt-run']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'A from layer 1\nB from layer 2\n');
    const blobBytes = [...proxy.stats.bytesByPath].filter(([p]) => p.includes('/blobs/')).reduce((n, [, b]) => n + b, 0);
    assert.ok(blobBytes > 0, 'something was fetched');
    assert.ok(blobBytes < PAYLOAD / 4, `fetched ${blobBytes} bytes of blobs, not the ${PAYLOAD}-byte payload`);
  });
});

async function readdirOrEmpty(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** Run the CLI as a child process. */
function runProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += String(c)));
  child.stderr.on('data', (c) => (stderr += String(c)));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}
