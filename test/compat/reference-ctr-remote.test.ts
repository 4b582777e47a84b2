// Layers written by the reference tool itself — Debian's `ctr-remote image convert --estargz --oci` (0.12)
// against a private containerd — open, verify against their toc.digest annotation and read with our reader,
// every file equal to the source image's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openEStargz } from '../../src/estargz/reader.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import type { Index, Manifest } from '../../src/oci/types.js';
import { parseTarBuffer } from '../../src/tar/reader.js';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { noise } from '../estargz/fixture-layer.js';
import { tempDir } from '../estargz/helpers.js';

const skip = process.getuid?.() !== 0 ? 'needs root: containerd runs as root' : !existsSync('/usr/bin/ctr-remote') ? 'needs /usr/bin/ctr-remote (stargz-snapshotter)' : false;
let dir = '';
let containerd: ChildProcess | undefined;
let sock = '';
let img: BuiltImage;

before(async () => {
  if (skip) return;
  dir = await tempDir('ref-ctr-remote-');
  sock = join(dir, 'containerd.sock');
  const cfg = join(dir, 'config.toml');
  await writeFile(cfg, `version = 2\nroot = "${join(dir, 'root')}"\nstate = "${join(dir, 'state')}"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n[grpc]\n  address = "${sock}"\n[ttrpc]\n  address = "${sock}.ttrpc"\n`);
  containerd = spawn('containerd', ['--config', cfg], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  img = await buildImage(join(dir, 'src'), 'latest', {
    layers: [
      { busybox: true },
      { entries: [{ path: 'opt/big.bin', type: 'file', content: Buffer.concat([noise(5 << 20, 9), Buffer.alloc(1 << 20, 1)]) }, { path: 'opt/hard', type: 'hardlink', target: 'opt/big.bin' }] },
    ],
  });
  execFileSync('tar', ['-C', join(dir, 'src'), '-cf', join(dir, 'src.tar'), '.']);
  const ctr = (...args: string[]) => execFileSync('ctr', ['-a', sock, '-n', 'compat', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  ctr('images', 'import', '--no-unpack', '--base-name', 'docker.io/compat/src', join(dir, 'src.tar'));
  execFileSync('ctr-remote', ['-a', sock, '-n', 'compat', 'image', 'convert', '--estargz', '--oci', 'docker.io/compat/src:latest', 'docker.io/compat/dst:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  ctr('images', 'export', join(dir, 'dst.tar'), 'docker.io/compat/dst:1');
  await mkdir(join(dir, 'dst'));
  execFileSync('tar', ['-C', join(dir, 'dst'), '-xf', join(dir, 'dst.tar')]);
});
after(async () => {
  containerd?.kill('SIGTERM');
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('every layer the reference converted opens, verifies and reads equal with our reader', { skip }, async () => {
  const blob = (d: string) => readFile(join(dir, 'dst', 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(await readFile(join(dir, 'dst', 'index.json'), 'utf8')) as Index;
  let manifest = JSON.parse((await blob(index.manifests[0]!.digest)).toString()) as Manifest | Index;
  if ('manifests' in manifest) manifest = JSON.parse((await blob(manifest.manifests[0]!.digest)).toString()) as Manifest;
  const layers = (manifest as Manifest).layers;
  assert.equal(layers.length, 2);
  for (const [i, l] of layers.entries()) {
    const tocDigest = l.annotations?.['containerd.io/snapshot/stargz/toc.digest'];
    assert.ok(tocDigest, `layer ${i} has a toc.digest annotation`);
    const rd = await openEStargz(new BufferRangeReader(await blob(l.digest)), { tocDigest });
    assert.equal(rd.toc.entries[0]?.name, '.no.prefetch.landmark');
    let files = 0;
    for (const { header, data } of parseTarBuffer(img.layers[i]!.tar)) {
      if (header.type !== 'file') continue;
      const e = rd.lookup(header.name);
      assert.ok(e, `${header.name} in layer ${i}`);
      assert.deepEqual(await rd.readFile(e, 0, header.size), data, header.name);
      files++;
    }
    assert.ok(files > 0);
  }
});
