import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { openLayout, type OciLayout } from '../../src/store/oci-layout.js';
import { collectGarbage } from '../../src/store/gc.js';
import { selfOwner } from '../../src/host/process-owner.js';
import { LayoutEndpoint } from '../../src/store/layout-endpoint.js';
import { buildImage } from '../fixtures/image-builder.js';
import { exited, kill, ready, startChild } from './child.js';

let tmp: string;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'store-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

let n = 0;
async function freshLayout(): Promise<OciLayout> {
  const dir = join(tmp, `layout-${n++}`);
  return openLayout(dir, { create: true, ingestDir: join(dir, 'ingest') });
}

const listDir = async (dir: string) => (await readdir(dir).catch(() => [])).sort();

describe('content', () => {
  test('putBytes stores verified content readable by readBytes, readerAt and stream', async () => {
    const layout = await freshLayout();
    const data = Buffer.from('hello store');
    const info = await layout.putBytes(data, sha256Digest(data));
    assert.deepEqual(info, { digest: sha256Digest(data), size: data.length });
    assert.deepEqual(await layout.readBytes(info.digest, 100), data);
    const r = await layout.readerAt(info.digest);
    assert.equal(r.size, data.length);
    assert.equal((await r.readAt(6, 5)).toString(), 'store');
    await r.close?.();
    const chunks: Buffer[] = [];
    for await (const c of await layout.stream(info.digest)) chunks.push(c);
    assert.deepEqual(Buffer.concat(chunks), data);
    assert.deepEqual(await layout.info(info.digest), info);
    assert.equal(await layout.has(info.digest, data.length), true);
    assert.equal(await layout.has(info.digest, data.length + 1), false);
  });

  test('a wrong digest is DigestMismatch and leaves nothing visible', async () => {
    const layout = await freshLayout();
    const wrong = sha256Digest('other');
    await assert.rejects(layout.putBytes(Buffer.from('content'), wrong), (e) => isCtrError(e, 'DigestMismatch') && /wrong content/.test(e.message));
    assert.equal(await layout.has(wrong), false);
    assert.deepEqual(await listDir(layout.blobsDir), []);
    assert.deepEqual(await listDir(layout.ingestDir), []);
  });

  test('too few or too many bytes are DigestMismatch naming the sizes', async () => {
    const layout = await freshLayout();
    const data = Buffer.from('0123456789');
    const short = await layout.writer({ digest: sha256Digest(data), size: 20 });
    await short.write(data);
    await assert.rejects(short.commit(), (e) => isCtrError(e, 'DigestMismatch') && /truncated: got 10 of 20 bytes/.test(e.message));
    const long = await layout.writer({ size: 5 });
    await assert.rejects(long.write(data), (e) => isCtrError(e, 'DigestMismatch') && /larger than its declared 5 bytes/.test(e.message));
    await long.abort();
    assert.deepEqual(await listDir(layout.blobsDir), []);
    assert.deepEqual(await listDir(layout.ingestDir), []);
  });

  test('readBytes detects a blob corrupted on disk and enforces its size limit', async () => {
    const layout = await freshLayout();
    const info = await layout.putBytes(Buffer.from('x'.repeat(100)));
    await assert.rejects(layout.readBytes(info.digest, 10), (e) => isCtrError(e, 'LimitExceeded') && /over the 10-byte limit/.test(e.message));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(layout.blobPath(info.digest), 'y'.repeat(100));
    await assert.rejects(layout.readBytes(info.digest, 1000), (e) => isCtrError(e, 'DigestMismatch') && /corrupt/.test(e.message));
    await assert.rejects(layout.info(sha256Digest('absent')), (e) => isCtrError(e, 'NotFound'));
  });

  test('a SIGKILLed writer leaves no visible blob; the next write succeeds and gc removes its ingest file', async () => {
    const layout = await freshLayout();
    const child = startChild(['write-slow', layout.dir, String(1 << 20)]);
    await ready(child);
    await kill(child);
    assert.deepEqual(await listDir(layout.blobsDir), []);
    const leftovers = (await listDir(layout.ingestDir)).filter((f) => f.startsWith('.ingest-'));
    assert.equal(leftovers.length, 1, 'the killed writer left its ingest file');
    const data = Buffer.alloc(1 << 20, 7);
    const info = await layout.putBytes(data, sha256Digest(data));
    assert.deepEqual(await layout.readBytes(info.digest, 1 << 21), data);
    // A dead process's half-written index.json temp file goes too, even when its pid now belongs to a live
    // process (ours, with another start time: pid reuse); a live writer's temp stays.
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(layout.dir, `index.json.tmp-${process.pid}.1-abcd`), '{"schemaVersion":');
    const live = `index.json.tmp-${selfOwner()}-beef`;
    await writeFile(join(layout.dir, live), '{"schemaVersion":');
    const gc = await collectGarbage(layout);
    assert.deepEqual((await listDir(layout.ingestDir)).filter((f) => f.startsWith('.ingest-')), []);
    assert.deepEqual((await listDir(layout.dir)).filter((f) => f.includes('.tmp-')), [live]);
    assert.equal(gc.leftovers.length, 2, 'the ingest file and the dead temp are reported');
    assert.equal(gc.leftovers.find((l) => l.path.includes('.ingest-'))?.bytes, 1 << 19, 'half the blob was written');
  });
});

describe('names', () => {
  const manifestDesc = (layout: OciLayout, body: string) =>
    layout.putBytes(Buffer.from(body)).then((b) => ({ mediaType: MediaType.OciManifest, ...b }));

  test('setName, get, list, removeName keep index.json a valid OCI index', async () => {
    const layout = await freshLayout();
    const a = await manifestDesc(layout, '{"a":1}');
    const b = await manifestDesc(layout, '{"b":1}');
    await layout.setName('docker.io/library/a:1', a);
    await layout.setName('docker.io/library/b:1', b);
    await layout.setName('docker.io/library/a:1', b);
    assert.deepEqual((await layout.list()).map((x) => [x.name, x.descriptor.digest]), [
      ['docker.io/library/b:1', b.digest],
      ['docker.io/library/a:1', b.digest],
    ]);
    assert.equal((await layout.get('docker.io/library/a:1')).annotations, undefined, 'ref.name is not part of the returned descriptor');
    const raw = JSON.parse(await readFile(join(layout.dir, 'index.json'), 'utf8'));
    assert.equal(raw.schemaVersion, 2);
    assert.equal(raw.manifests[1].annotations['org.opencontainers.image.ref.name'], 'docker.io/library/a:1');
    assert.equal(await layout.removeName('docker.io/library/a:1'), true);
    assert.equal(await layout.removeName('docker.io/library/a:1'), false);
    await assert.rejects(layout.get('docker.io/library/a:1'), (e) => isCtrError(e, 'NotFound') && /image docker.io\/library\/a:1 not found/.test(e.message));
    assert.deepEqual(await listDir(layout.dir), ['blobs', 'index.json', 'ingest', 'oci-layout'], 'no temp or lock files left');
  });

  test('readers never see a torn index.json while many updates run', async () => {
    const layout = await freshLayout();
    const d = await manifestDesc(layout, '{}');
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        JSON.parse(await readFile(join(layout.dir, 'index.json'), 'utf8'));
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: 40 }, (_, i) => layout.setName(`n-${i}`, d)));
    stop = true;
    await reader;
    assert.ok(reads > 0);
    assert.equal((await layout.list()).length, 40, 'concurrent in-process updates lost nothing');
  });

  test('two processes creating one layout and tagging concurrently lose no name', async () => {
    const dir = join(tmp, `layout-${n++}`);
    const a = startChild(['tag', dir, 'a', '25']);
    const b = startChild(['tag', dir, 'b', '25']);
    await Promise.all([exited(a), exited(b)]);
    const layout = await openLayout(dir);
    const names = new Set((await layout.list()).map((x) => x.name));
    assert.equal(names.size, 50);
    for (let i = 0; i < 25; i++) assert.ok(names.has(`a-${i}`) && names.has(`b-${i}`), `a-${i} and b-${i} present`);
  });

  test('a lock held by a SIGKILLed process is broken by the next writer', async () => {
    const layout = await freshLayout();
    const child = startChild(['hold-lock', layout.dir]);
    await ready(child);
    await kill(child);
    const d = await manifestDesc(layout, '{}');
    const t0 = Date.now();
    await layout.setName('after-kill', d);
    assert.ok(Date.now() - t0 < 5000, 'the stale lock was broken promptly');
    assert.equal((await layout.get('after-kill')).digest, d.digest);
  });
});

describe('gc', () => {
  test('after removing a name only the blobs no other name reaches are deleted', async () => {
    const layout = await freshLayout();
    const shared = { path: 'shared.txt', type: 'file' as const, content: 'shared' };
    const one = await buildImage(layout.dir, 'one', { layers: [{ entries: [shared] }, { entries: [{ path: 'one', type: 'file', content: '1' }] }] });
    const two = await buildImage(layout.dir, 'two', { layers: [{ entries: [shared] }, { entries: [{ path: 'two', type: 'file', content: '2' }] }] });
    assert.equal(one.layers[0]!.digest, two.layers[0]!.digest);
    const orphan = await layout.putBytes(Buffer.from('orphan'));
    await layout.removeName('one');
    const result = await collectGarbage(layout);
    const removed = new Set(result.removed.map((b) => b.digest));
    assert.deepEqual(removed, new Set([one.manifestDigest, one.configDigest, one.layers[1]!.digest, orphan.digest]));
    assert.equal(result.freedBytes, result.removed.reduce((s, b) => s + b.size, 0));
    for (const d of [two.manifestDigest, two.configDigest, ...two.layers.map((l) => l.digest)]) assert.ok(await layout.has(d), `${d} kept`);
    // The remaining image is still complete: tagging it again checks every blob.
    await new LayoutEndpoint(layout, 'two-again').tag(two.descriptor, two.manifestBytes);
  });

  test('gc defers while another live process holds a lease', async () => {
    const layout = await freshLayout();
    const orphan = await layout.putBytes(Buffer.from('written by a pull in progress'));
    const child = startChild(['lease', layout.dir]);
    await ready(child);
    try {
      const deferred = await collectGarbage(layout);
      assert.equal(deferred.removed.length, 0);
      assert.deepEqual(deferred.deferredBy, [String(child.pid)]);
      assert.ok(await layout.has(orphan.digest));
    } finally {
      await kill(child);
    }
    const result = await collectGarbage(layout);
    assert.deepEqual(result.removed.map((b) => b.digest), [orphan.digest], 'a dead lease no longer blocks gc');
  });

  test('tag refuses to name an image whose blobs are missing', async () => {
    const layout = await freshLayout();
    const img = await buildImage(layout.dir, 'img', { layers: [{ entries: [{ path: 'f', type: 'file', content: 'f' }] }] });
    await layout.delete(img.layers[0]!.digest);
    await assert.rejects(new LayoutEndpoint(layout, 'copy').tag(img.descriptor, img.manifestBytes), (e) => isCtrError(e, 'Conflict') && e.message.includes(img.layers[0]!.digest));
    await new LayoutEndpoint(layout, 'lazy', { requireLayers: false }).tag(img.descriptor, img.manifestBytes);
    assert.equal((await layout.get('lazy')).digest, img.manifestDigest);
  });
});
