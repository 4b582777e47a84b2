// copyImage between OCI layouts: verification, skipping, platform choice, bounded concurrency, naming last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { copyImage } from '../../src/image/copy/copy-image.js';
import type { BlobProgress } from '../../src/content/endpoint.js';
import { LayoutEndpoint } from '../../src/store/layout-endpoint.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { buildImage, buildIndex, type BuiltImage } from '../fixtures/image-builder.js';

let tmp: string;
let src: string;
let img: BuiltImage;
let arm: BuiltImage;
let n = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'copy-image-'));
  src = join(tmp, 'src');
  img = await buildImage(src, 'app', { layers: Array.from({ length: 6 }, (_, i) => ({ entries: [{ path: `f${i}`, type: 'file' as const, content: `layer ${i}` }] })) });
  arm = await buildImage(src, 'arm', { platform: { os: 'linux', architecture: 'arm', variant: 'v7' }, layers: [{ entries: [{ path: 'arm', type: 'file', content: 'arm' }] }] });
  await buildIndex(src, 'multi', [arm, img], 'docker');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const from = async (name: string, dir = src) => new LayoutEndpoint(await openLayout(dir), name);
const to = async (name: string) => new LayoutEndpoint(await openLayout(join(tmp, `dst-${n++}`), { create: true }), name);

test('copies every blob once with at most `concurrency` in flight, then names the manifest', async () => {
  const dst = await to('copy');
  let inFlight = 0;
  let peak = 0;
  const events: BlobProgress[] = [];
  const result = await copyImage(await from('app'), dst, {
    concurrency: 2,
    onProgress: (p) => {
      events.push(p);
      if (p.state === 'started') peak = Math.max(peak, ++inFlight);
      if (p.state === 'done') inFlight--;
    },
  });
  assert.equal(result.descriptor.digest, img.manifestDigest);
  assert.equal(peak, 2);
  assert.equal(events.filter((e) => e.state === 'done').length, 7, 'config + 6 layers');
  assert.equal((await dst.layout.get('copy')).digest, img.manifestDigest);
  const again: BlobProgress[] = [];
  await copyImage(await from('app'), dst, { onProgress: (p) => again.push(p) });
  assert.deepEqual([...new Set(again.map((e) => e.state))], ['skipped']);
});

test('selects the requested platform from a Docker manifest list, or copies the whole list', async () => {
  const dst = await to('m');
  const armCopy = await copyImage(await from('multi'), dst, { platform: { os: 'linux', architecture: 'arm', variant: 'v7' } });
  assert.equal(armCopy.descriptor.digest, arm.manifestDigest);
  const hostCopy = await copyImage(await from('multi'), dst, { platform: { os: 'linux', architecture: 'amd64' } });
  assert.equal(hostCopy.descriptor.digest, img.manifestDigest);
  const all = await copyImage(await from('multi'), dst, { allPlatforms: true });
  assert.equal(all.descriptor.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  await assert.rejects(copyImage(await from('multi'), dst, { platform: { os: 'windows', architecture: 'amd64' } }), (e) => isCtrError(e, 'NotFound') && /has no manifest for windows\/amd64/.test(e.message));
});

test('a corrupt source blob fails the copy with DigestMismatch, aborts the rest and names nothing', async () => {
  const bad = join(tmp, 'bad-src');
  const copy = await buildImage(bad, 'app', { layers: img.layers.map((_, i) => ({ entries: [{ path: `f${i}`, type: 'file' as const, content: `layer ${i}` }] })) });
  const victim = copy.layers[3]!;
  await writeFile(join(bad, 'blobs', 'sha256', victim.digest.slice(7)), Buffer.alloc(victim.size, 1));
  const dst = await to('never');
  await assert.rejects(copyImage(await from('app', bad), dst), (e) => isCtrError(e, 'DigestMismatch') && e.message.includes(victim.digest));
  assert.equal(await dst.layout.find('never'), undefined);
  assert.equal(await dst.layout.has(victim.digest), false);
});

test('an aborted copy stops and names nothing', async () => {
  const dst = await to('aborted');
  const ac = new AbortController();
  await assert.rejects(
    copyImage(await from('app'), dst, { signal: ac.signal, concurrency: 1, onProgress: (p) => p.state === 'done' && ac.abort() }),
    (e: Error) => e.name === 'AbortError' || isCtrError(e, 'Aborted'),
  );
  assert.equal(await dst.layout.find('aborted'), undefined);
});
