import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../../src/oci/digest.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { ByteLru } from '../../src/layer/byte-lru.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ctr-remote-cache-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const chunk = (n: number, size = 1000) => Buffer.alloc(size, n);

describe('ChunkCache', () => {
  test('put then get from memory and, after reopening, from disk under chunks/sha256/<hex>', async () => {
    const dir = await tempDir();
    const data = chunk(1);
    const d = sha256Digest(data);
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    assert.equal(cache.has(d), false);
    assert.equal(await cache.get(d), undefined);
    await cache.put(d, data);
    assert.equal(cache.has(d), true);
    assert.deepEqual(await cache.get(d), data);
    assert.deepEqual(await readFile(join(dir, 'chunks', 'sha256', d.slice(7))), data);
    assert.deepEqual(await readdir(join(dir, 'chunks', 'tmp')), []);
    const reopened = await ChunkCache.open({ dir, maxBytes: 1 << 20, memoryMaxBytes: 0 });
    assert.equal(reopened.has(d), true);
    assert.deepEqual(await reopened.get(d), data);
    assert.deepEqual([reopened.stats().diskHits, reopened.stats().diskBytes], [1, 1000]);
  });

  test('dropMemory lets go of the chunks held in memory: the next get reads the disk, and the same bytes come back', async () => {
    const dir = await tempDir();
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    const a = chunk(7, 3000);
    const b = chunk(8, 2000);
    await cache.put(sha256Digest(a), a);
    await cache.put(sha256Digest(b), b);
    assert.equal(cache.inMemory(sha256Digest(a)), true);
    assert.equal(cache.dropMemory(), 5000);
    assert.equal(cache.inMemory(sha256Digest(a)), false);
    const before = cache.stats();
    assert.deepEqual(await cache.get(sha256Digest(a)), a);
    assert.deepEqual([cache.stats().diskHits - before.diskHits, cache.stats().memoryHits - before.memoryHits], [1, 0]);
    assert.equal(cache.dropMemory(), 3000, 'the chunk read back was kept in memory again');
  });

  test('the disk bound evicts least recently used chunks, recency refreshed by hits', async () => {
    const dir = await tempDir();
    const cache = await ChunkCache.open({ dir, maxBytes: 3000, memoryMaxBytes: 0 });
    const ds = [1, 2, 3].map((n) => sha256Digest(chunk(n)));
    for (const [i, d] of ds.entries()) await cache.put(d, chunk(i + 1));
    await cache.get(ds[0]!); // 1 becomes most recent; 2 is now the oldest
    const d4 = sha256Digest(chunk(4));
    await cache.put(d4, chunk(4));
    assert.deepEqual([ds[0], ds[1], ds[2], d4].map((d) => cache.has(d!)), [true, false, true, true]);
    assert.equal(cache.stats().evictions, 1);
    assert.equal((await readdir(join(dir, 'chunks', 'sha256'))).length, 3);
  });

  test('reopening indexes by mtime and enforces a smaller bound', async () => {
    const dir = await tempDir();
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    const ds = [1, 2, 3].map((n) => sha256Digest(chunk(n)));
    for (const [i, d] of ds.entries()) {
      await cache.put(d, chunk(i + 1));
      const t = new Date(Date.UTC(2020, 0, 1 + i));
      await utimes(join(dir, 'chunks', 'sha256', d.slice(7)), t, t);
    }
    const small = await ChunkCache.open({ dir, maxBytes: 2000 });
    assert.deepEqual(ds.map((d) => small.has(d)), [false, true, true]);
  });

  test('a chunk corrupted on disk is a miss, counted and removed', async () => {
    const dir = await tempDir();
    const data = chunk(9);
    const d = sha256Digest(data);
    await (await ChunkCache.open({ dir, maxBytes: 1 << 20 })).put(d, data);
    await writeFile(join(dir, 'chunks', 'sha256', d.slice(7)), chunk(8));
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    assert.equal(await cache.get(d), undefined);
    assert.equal(cache.stats().corrupt, 1);
    assert.equal(cache.has(d), false);
    assert.deepEqual(await readdir(join(dir, 'chunks', 'sha256')), []);
  });

  test('warm() loads an on-disk chunk into memory without waiting; a later get is a memory hit', async () => {
    const dir = await tempDir();
    const big = chunk(5, 300_000); // above the synchronous-read size: the threadpool path
    const d = sha256Digest(big);
    await (await ChunkCache.open({ dir, maxBytes: 1 << 20 })).put(d, big);
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    assert.equal(cache.inMemory(d), false);
    cache.warm(d);
    cache.warm(sha256Digest(chunk(6))); // not cached: a no-op
    // polled with a deadline, not a count of 10 ms turns: the threadpool read can take longer on a loaded machine
    for (const deadline = Date.now() + 10_000; !cache.inMemory(d) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cache.inMemory(d), true);
    assert.deepEqual(await cache.get(d), big);
    assert.deepEqual([cache.stats().memoryHits, cache.stats().diskHits, cache.stats().corrupt], [1, 0, 0]);
  });

  test('a corrupt chunk is caught by warm() too, and a chunk is hashed only on its first load per instance', async () => {
    const dir = await tempDir();
    const data = chunk(7, 300_000);
    const d = sha256Digest(data);
    await (await ChunkCache.open({ dir, maxBytes: 1 << 20 })).put(d, data);
    const path = join(dir, 'chunks', 'sha256', d.slice(7));
    await writeFile(path, chunk(8, 300_000));
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    cache.warm(d);
    for (const deadline = Date.now() + 10_000; cache.stats().corrupt === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cache.stats().corrupt, 1);
    assert.equal(cache.has(d), false);
    const good = await ChunkCache.open({ dir, maxBytes: 1 << 20, memoryMaxBytes: 0 });
    await good.put(d, data); // written by this instance: trusted from now on
    assert.deepEqual(await good.get(d), data);
    assert.equal(good.stats().corrupt, 0);
  });

  test('a chunk file that cannot be stat\'ed (a symlink loop) is left out of the index; the cache still opens', async () => {
    const dir = await tempDir();
    const data = chunk(5);
    const d = sha256Digest(data);
    await (await ChunkCache.open({ dir, maxBytes: 1 << 20 })).put(d, data);
    const loop = 'f'.repeat(64);
    await symlink(loop, join(dir, 'chunks', 'sha256', loop));
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 20 });
    assert.equal(cache.has(`sha256:${loop}`), false);
    assert.equal(cache.has(d), true);
    assert.deepEqual(await cache.get(d), data);
  });

  test('writer(): a chunk written in pieces is invisible until commit, then stored and bounded like a put; discard leaves nothing', async () => {
    const dir = await tempDir();
    const cache = await ChunkCache.open({ dir, maxBytes: 2500, memoryMaxBytes: 0 });
    const data = chunk(7, 1000);
    const d = sha256Digest(data);
    const w = cache.writer(d);
    await w.write(data.subarray(0, 300));
    await w.write(data.subarray(300));
    assert.equal(cache.has(d), false, 'not visible before commit');
    assert.deepEqual(await readdir(join(dir, 'chunks', 'sha256')), []);
    await w.commit();
    assert.equal(cache.has(d), true);
    assert.deepEqual(await readFile(join(dir, 'chunks', 'sha256', d.slice(7))), data);
    assert.deepEqual(await readdir(join(dir, 'chunks', 'tmp')), []);
    assert.equal(cache.stats().diskBytes, 1000);

    const dropped = cache.writer(sha256Digest(chunk(8)));
    await dropped.write(chunk(8));
    await dropped.discard();
    assert.equal(cache.has(sha256Digest(chunk(8))), false);
    assert.deepEqual(await readdir(join(dir, 'chunks', 'tmp')), []);

    // the same chunk stored meanwhile: the first copy stays, the second's temp file goes
    const again = cache.writer(d);
    await again.write(data);
    await again.commit();
    assert.deepEqual(await readdir(join(dir, 'chunks', 'tmp')), []);
    assert.equal(cache.stats().diskBytes, 1000);

    // the disk bound holds for written chunks too: the least recently used one is evicted
    for (const n of [9, 10]) {
      const x = cache.writer(sha256Digest(chunk(n)));
      await x.write(chunk(n));
      await x.commit();
    }
    assert.equal(cache.has(d), false, 'evicted');
    assert.equal(cache.stats().diskBytes, 2000);
  });

  test('the default bound is at most 10 GiB and positive', async () => {
    const cache = await ChunkCache.open({ dir: await tempDir() });
    const max = cache.stats().maxBytes;
    assert.ok(max > 0 && max <= 10 * 2 ** 30, String(max));
  });
});

describe('ByteLru', () => {
  test('a small view of a large ArrayBuffer is kept as a compact copy; whole buffers are kept as they are', () => {
    const lru = new ByteLru<string>(1 << 20);
    const block = Buffer.alloc(64 << 10, 1);
    lru.set('view', block.subarray(0, 100));
    assert.equal(lru.get('view')!.buffer.byteLength < 64 << 10, true);
    assert.deepEqual(lru.get('view'), Buffer.alloc(100, 1));
    const whole = Buffer.alloc(32 << 10, 2);
    lru.set('whole', whole);
    assert.equal(lru.get('whole'), whole);
    assert.equal(lru.bytes, 100 + (32 << 10));
  });
});
