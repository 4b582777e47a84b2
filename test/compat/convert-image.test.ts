// `image convert` end to end through the CLI: OCI layouts in and out, the local store, annotations,
// config rewrite, determinism, record-in priorities, --reuse, multi-platform, zstd:chunked, --uncompress,
// bad input leaving nothing at DST; converted layers verified by the reference Go library and unpacked by
// umoci (an eStargz-agnostic consumer) to the same tree as the source image.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Descriptor, ImageConfig, Index, Manifest } from '../../src/oci/types.js';
import { convertImage, type LayerPriority } from '../../src/image/convert/convert.js';
import { Annotation } from '../../src/oci/media-types.js';
import { FOOTER_SIZE, parseFooter } from '../../src/estargz/footer.js';
import { LayoutEndpoint } from '../../src/store/layout-endpoint.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { buildImage, buildIndex, type BuiltImage } from '../fixtures/image-builder.js';
import { cli } from '../cli/cli-harness.js';
import { buildGoHarness, goVerify, tempDir } from '../estargz/helpers.js';
import { noise } from '../estargz/fixture-layer.js';
import { startRegistry } from '../fixtures/registry.js';

const TOC = 'containerd.io/snapshot/stargz/toc.digest';
const USIZE = 'io.containers.estargz.uncompressed-size';
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let dir = '';
let go = '';
let src = '';
let img: BuiltImage;

const blobPath = (layout: string, digest: string) => join(layout, 'blobs', 'sha256', digest.slice(7));
const readJson = async <T>(layout: string, digest: string): Promise<T> => JSON.parse(await readFile(blobPath(layout, digest), 'utf8')) as T;
async function namedManifest(layout: string, name: string): Promise<{ desc: Descriptor; manifest: Manifest }> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
  const desc = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === name);
  assert.ok(desc, `${name} in ${layout}`);
  return { desc, manifest: await readJson<Manifest>(layout, desc.digest) };
}
const run = (args: string[]) => cli(['--root', join(dir, 'root'), ...args]);

before(async () => {
  dir = await tempDir('convert-image-');
  go = await buildGoHarness(join(dir, 'go'));
  src = join(dir, 'src');
  img = await buildImage(src, 'app:1', {
    layers: [
      { busybox: true },
      {
        entries: [
          { path: 'etc/hello.txt', type: 'file', content: 'hi\n' },
          { path: 'usr/lib/big.bin', type: 'file', content: Buffer.concat([noise(3 << 20, 1), Buffer.alloc(3 << 20, 0x42)]) },
          { path: 'etc/link', type: 'symlink', target: 'hello.txt' },
          { path: 'etc/hard', type: 'hardlink', target: 'etc/hello.txt' },
        ],
      },
      { entries: [{ path: 'etc/hello.txt', type: 'whiteout' }] },
    ],
    config: { Cmd: ['/bin/sh'] },
  });
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('image convert --estargz --oci', () => {
  let out = '';
  let digest = '';
  before(async () => {
    out = join(dir, 'out');
    const r = await run(['image', 'convert', '--estargz', '--oci', '--estargz-chunk-size', '1048576', `oci:${src}:app:1`, `oci:${out}:conv`]);
    assert.equal(r.code, 0, r.stderr);
    digest = r.stdout.trim();
  });

  test('prints the new manifest digest; config diff_ids, history and layer annotations are rewritten', async () => {
    const { desc, manifest } = await namedManifest(out, 'conv');
    assert.equal(desc.digest, digest);
    assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    const config = await readJson<ImageConfig>(out, manifest.config.digest);
    assert.deepEqual(config.history, img.config.history);
    assert.deepEqual(config.config, img.config.config);
    assert.equal(manifest.layers.length, 3);
    for (const [i, l] of manifest.layers.entries()) {
      assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip');
      const blob = await readFile(blobPath(out, l.digest));
      assert.equal(sha(blob), l.digest);
      const tar = gunzipSync(blob);
      assert.equal(config.rootfs.diff_ids[i], sha(tar), `diff_id ${i}`);
      assert.equal(l.annotations?.[USIZE], String(tar.length));
      // our extension: the bytes from the TOC's gzip member through the footer, where the footer says
      assert.equal(l.annotations?.[Annotation.TocTailSize], String(blob.length - parseFooter(blob.subarray(blob.length - FOOTER_SIZE))), `toc.tail-size ${i}`);
      const g = goVerify(go, blobPath(out, l.digest), l.annotations![TOC]!);
      assert.equal(g.order[0], '.no.prefetch.landmark');
      if (i === 1) assert.equal(g.files.find((f) => f.name === 'usr/lib/big.bin')?.chunks, 6);
    }
  });

  test('a registry source converts to the same digest as the same image from a layout', async () => {
    const reg = await startRegistry();
    try {
      const push = await run(['image', 'push', '--plain-http', `${reg.host}/app:1`, `oci:${src}:app:1`]);
      assert.equal(push.code, 0, push.stderr);
      const r = await run(['image', 'convert', '--estargz', '--oci', '--plain-http', '--estargz-chunk-size', '1048576', `${reg.host}/app:1`, `oci:${join(dir, 'from-registry')}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), digest);
    } finally {
      await reg.stop();
    }
  });

  test('deterministic: converting again gives the same manifest digest', async () => {
    const r = await run(['image', 'convert', '--estargz', '--oci', '--estargz-chunk-size', '1048576', `oci:${src}:app:1`, `oci:${join(dir, 'out2')}:conv`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), digest);
  });

  test('umoci unpacks the converted image to the same rootfs as the source', { skip: process.getuid?.() !== 0 ? 'needs root: umoci unpack keeps ownership only as root' : false }, async () => {
    const tree = (layout: string, tag: string) => {
      const bundle = join(dir, `bundle-${tag}`);
      execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: 'ignore' });
      return execFileSync('sh', ['-c', `cd ${bundle}/rootfs && find . ! -name '*.landmark' ! -name stargz.index.json -printf '%p %y %m %U %s %l\\n' | sort && find . -type f ! -name '*.landmark' ! -name stargz.index.json -exec sha256sum {} + | sort`]).toString();
    };
    const before = tree(src, 'app:1');
    assert.match(before, /big\.bin/);
    assert.equal(tree(out, 'conv'), before);
  });

  test('into the store; get-toc-digest prints the annotation and --dump-toc the TOC', async () => {
    const r = await run(['image', 'convert', '--estargz', '--oci', `oci:${src}:app:1`, 'conv:1']);
    assert.equal(r.code, 0, r.stderr);
    const ls = await run(['image', 'ls']);
    assert.match(ls.stdout, /conv:1/);
    const storeDir = join(dir, 'root', 'store');
    const { manifest } = await namedManifest(storeDir, 'docker.io/library/conv:1');
    const layer = manifest.layers[1]!;
    const t = await run(['image', 'get-toc-digest', layer.digest]);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout.trim(), layer.annotations![TOC]);
    const dump = await run(['image', 'get-toc-digest', '--dump-toc', layer.digest]);
    assert.equal(sha(Buffer.from(dump.stdout.replace(/\n$/, ''))), layer.annotations![TOC]);
    assert.equal((await run(['image', 'convert', '--uncompress', '--oci', `oci:${src}:app:1`, 'plain:1'])).code, 0);
    const bad = await run(['image', 'get-toc-digest', img.layers[0]!.diffId]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not an eStargz blob/);
    const missing = await run(['image', 'get-toc-digest', `sha256:${'0'.repeat(64)}`]);
    assert.match(missing.stderr, /not found/);
  });
});

describe('convert options', () => {
  test('--estargz-record-in puts recorded files first; a bad line is named and nothing is written', async () => {
    const rec = join(dir, 'record.ndjson');
    await writeFile(rec, ['{"path":"usr/lib/big.bin","manifestDigest":"sha256:x","layerIndex":1}', '{"path":"bin/busybox"}', '', '{"path":"usr/lib/big.bin"}'].join('\n'));
    const out = join(dir, 'prio');
    const r = await run(['image', 'convert', '--estargz', '--oci', '--estargz-record-in', rec, `oci:${src}:app:1`, `oci:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    const { manifest } = await namedManifest(out, 'latest');
    const orders = manifest.layers.map((l) => goVerify(go, blobPath(out, l.digest), l.annotations![TOC]!).order);
    assert.deepEqual(orders[0]!.slice(0, 3), ['bin', 'bin/busybox', '.prefetch.landmark']);
    assert.deepEqual(orders[1]!.slice(0, 4), ['usr', 'usr/lib', 'usr/lib/big.bin', '.prefetch.landmark']);
    assert.equal(orders[2]![0], '.prefetch.landmark');

    await writeFile(rec, '{"path":"a"}\nnot json\n');
    const bad = await run(['image', 'convert', '--estargz', '--oci', '--estargz-record-in', rec, `oci:${src}:app:1`, `oci:${join(dir, 'never')}`]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /line 2 is not JSON/);
    assert.equal(existsSync(join(dir, 'never')), false);
  });

  test('--reuse keeps layers that already are eStargz; others are converted', async () => {
    const first = join(dir, 'reuse-a');
    assert.equal((await run(['image', 'convert', '--estargz', '--oci', `oci:${src}:app:1`, `oci:${first}`])).code, 0);
    const again = await run(['image', 'convert', '--estargz', '--oci', '--reuse', '--json', `oci:${first}`, `oci:${join(dir, 'reuse-b')}`]);
    assert.equal(again.code, 0, again.stderr);
    const res = JSON.parse(again.stdout) as { digest: string; layers: { reused: boolean; from: string; to: string }[] };
    assert.deepEqual(res.layers.map((l) => l.reused), [true, true, true]);
    assert.ok(res.layers.every((l) => l.from === l.to));
    const plain = await run(['image', 'convert', '--estargz', '--oci', '--reuse', '--json', `oci:${src}:app:1`, `oci:${join(dir, 'reuse-c')}`]);
    assert.deepEqual((JSON.parse(plain.stdout) as typeof res).layers.map((l) => l.reused), [false, false, false]);
  });

  test('layerPriorities gives each layer its own files, none, or reuse (only for the manifest named)', async () => {
    const first = join(dir, 'per-layer-a');
    assert.equal((await run(['image', 'convert', '--estargz', '--oci', `oci:${src}:app:1`, `oci:${first}`])).code, 0);
    const source = new LayoutEndpoint(await openLayout(first), 'latest');
    const sourceDesc = await source.resolve();
    const asked: [string, number][] = [];
    const layerPriorities = (m: string, i: number): LayerPriority => {
      asked.push([m, i]);
      return m !== sourceDesc.digest ? ['bin/busybox'] : i === 0 ? 'reuse' : i === 1 ? ['etc/hello.txt'] : undefined;
    };
    const out = join(dir, 'per-layer-b');
    const res = await convertImage(source, new LayoutEndpoint(await openLayout(out, { create: true }), 'latest'), {
      format: 'estargz', oci: true, prioritizedFiles: ['bin/busybox'], layerPriorities,
    });
    assert.deepEqual(asked, [[sourceDesc.digest, 0], [sourceDesc.digest, 1], [sourceDesc.digest, 2]]);
    assert.deepEqual(res.layers.map((l) => l.reused), [true, false, false]);
    const { manifest } = await namedManifest(out, 'latest');
    const orders = manifest.layers.map((l) => goVerify(go, blobPath(out, l.digest), l.annotations![TOC]!).order);
    assert.equal(orders[0]![0], '.no.prefetch.landmark', 'the reused layer is the earlier conversion without priorities');
    const prefetched = orders[1]!.slice(0, orders[1]!.indexOf('.prefetch.landmark'));
    assert.ok(prefetched.includes('etc/hello.txt') && !prefetched.includes('usr/lib/big.bin'), prefetched.join(' '));
    assert.equal(orders[2]![0], '.no.prefetch.landmark', 'undefined means no priorities, not prioritizedFiles');
  });

  test('--all-platforms converts every manifest of an index; --platform picks one', async () => {
    const arm = await buildImage(src, 'app:arm', { layers: [{ entries: [{ path: 'arm.txt', type: 'file', content: 'arm' }] }], platform: { os: 'linux', architecture: 'arm64' } });
    await buildIndex(src, 'multi', [img, arm]);
    const out = join(dir, 'multi');
    const r = await run(['image', 'convert', '--estargz', '--oci', '--all-platforms', `oci:${src}:multi`, `oci:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as Index;
    const top = await readJson<Index>(out, index.manifests[0]!.digest);
    assert.equal(top.manifests.length, 2);
    assert.deepEqual(top.manifests.map((m) => m.platform?.architecture), ['amd64', 'arm64']);
    for (const m of top.manifests) assert.ok((await readJson<Manifest>(out, m.digest)).layers.every((l) => l.annotations?.[TOC]));
    const one = await run(['image', 'convert', '--estargz', '--oci', '--platform', 'linux/arm64', '--json', `oci:${src}:multi`, `oci:${join(dir, 'one')}`]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).layers.length, 1);
  });

  test('--zstdchunked writes zstd layers with both zstd:chunked annotations', async () => {
    const out = join(dir, 'zstd');
    const r = await run(['image', 'convert', '--zstdchunked', '--oci', `oci:${src}:app:1`, `oci:${out}`]);
    assert.equal(r.code, 0, r.stderr);
    const { manifest } = await namedManifest(out, 'latest');
    for (const l of manifest.layers) {
      assert.equal(l.mediaType, 'application/vnd.oci.image.layer.v1.tar+zstd');
      assert.match(l.annotations!['io.containers.zstd-chunked.manifest-position']!, /^\d+:\d+:\d+:1$/);
      assert.ok(l.annotations!['io.containers.zstd-chunked.manifest-checksum']);
      // the tail holds the TOC's skippable frame (8 bytes before the position's offset) and the footer frame
      const size = (await readFile(blobPath(out, l.digest))).length;
      const tocFrame = Number(l.annotations!['io.containers.zstd-chunked.manifest-position']!.split(':')[0]) - 8;
      const tail = Number(l.annotations![Annotation.TocTailSize]);
      assert.ok(tail >= size - tocFrame && tail <= size - tocFrame + 64, `toc.tail-size ${tail} covers the TOC frame at ${tocFrame} of ${size} and little else`);
      goVerify(go, blobPath(out, l.digest), l.annotations![TOC]!, true);
    }
    // zstd:chunked layers are plain zstd streams to other tools: converting them back to eStargz works.
    const back = join(dir, 'zstd-back');
    const r2 = await run(['image', 'convert', '--estargz', '--oci', `oci:${out}`, `oci:${back}`]);
    assert.equal(r2.code, 0, r2.stderr);
    const again = await namedManifest(back, 'latest');
    const big = goVerify(go, blobPath(back, again.manifest.layers[1]!.digest), again.manifest.layers[1]!.annotations![TOC]!);
    assert.equal(big.files.find((f) => f.name === 'usr/lib/big.bin')?.sha256, sha(Buffer.concat([noise(3 << 20, 1), Buffer.alloc(3 << 20, 0x42)])));
  });

  test('--uncompress writes plain tar layers whose digest is the diff_id', async () => {
    const out = join(dir, 'plain');
    assert.equal((await run(['image', 'convert', '--uncompress', '--oci', `oci:${src}:app:1`, `oci:${out}`])).code, 0);
    const { manifest } = await namedManifest(out, 'latest');
    const config = await readJson<ImageConfig>(out, manifest.config.digest);
    assert.deepEqual(manifest.layers.map((l) => l.digest), img.layers.map((l) => l.diffId));
    assert.deepEqual(config.rootfs.diff_ids, img.layers.map((l) => l.diffId));
    assert.equal(manifest.layers[0]!.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  });

  test('Docker media types without --oci convert with a warning; usage errors are clear', async () => {
    const dsrc = join(dir, 'docker-src');
    await buildImage(dsrc, 'd:1', { layers: [{ entries: [{ path: 'x', type: 'file', content: 'x' }] }], mediaTypes: 'docker' });
    const r = await run(['image', 'convert', '--estargz', '--json', `oci:${dsrc}:d:1`, `oci:${join(dir, 'docker-out')}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: converting Docker media types without --oci/);
    assert.equal(JSON.parse(r.stdout).mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
    const none = await run(['image', 'convert', `oci:${src}:app:1`, `oci:${join(dir, 'x')}`]);
    assert.match(none.stderr, /exactly one of --estargz, --zstdchunked, --uncompress/);
    const lvl = await run(['image', 'convert', '--estargz', '--estargz-compression-level', '11', `oci:${src}:app:1`, `oci:${join(dir, 'x')}`]);
    assert.match(lvl.stderr, /option '--estargz-compression-level <n>' argument '11' is invalid\. Expected an integer from 0 to 9/);
    assert.equal(lvl.code, 2, 'a bad flag value is a usage error');
  });

  test('a layer that is not gzip fails with a clear error and leaves nothing at DST', async () => {
    const bsrc = join(dir, 'bad-src');
    const bad = await buildImage(bsrc, 'b:1', { layers: [{ entries: [{ path: 'x', type: 'file', content: 'x' }] }], compression: 'none' });
    // Relabel the plain tar layer as gzip in a new manifest.
    const manifest = { ...bad.manifest, layers: bad.manifest.layers.map((l) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' })) };
    const bytes = Buffer.from(JSON.stringify(manifest));
    await writeFile(blobPath(bsrc, sha(bytes)), bytes);
    const index = JSON.parse(await readFile(join(bsrc, 'index.json'), 'utf8')) as Index;
    index.manifests.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(bytes), size: bytes.length, annotations: { 'org.opencontainers.image.ref.name': 'liar' } });
    await writeFile(join(bsrc, 'index.json'), JSON.stringify(index));
    const r = await run(['image', 'convert', '--estargz', '--oci', `oci:${bsrc}:liar`, `oci:${join(dir, 'bad-out')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not valid gzip data/);
    assert.equal(existsSync(join(dir, 'bad-out')), false);
  });
});
