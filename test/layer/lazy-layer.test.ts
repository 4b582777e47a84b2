import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, symlink, link, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { openEStargz } from '../../src/estargz/reader.js';
import { TocFile } from '../../src/estargz/toc-node.js';
import { isCtrError } from '../../src/errors.js';
import type { BlobRange, BlobSource } from '../../src/content/blob-source.js';
import { ChunkCache } from '../../src/layer/chunk-cache.js';
import { LazyLayer, type LazyLayerOptions } from '../../src/layer/lazy-layer.js';
import { readLayerState } from '../../src/layer/layer-state.js';
import { newBudgets } from '../../src/layer/layer-budgets.js';
import { GarbagePacer } from '../../src/layer/garbage-pacer.js';
import { TaskLimit } from '../../src/layer/task-limit.js';
import { garbageCollector } from '../../src/host/garbage-collector.js';
import { buildReferenceBlob, type ReferenceBlob } from './reference-estargz.js';

/** Serves ranges of an in-memory blob, counting requests and bytes; `corrupt` flips bytes in answers. */
class CountingBlob implements BlobSource {
  requests: BlobRange[][] = [];
  /** Date.now() at each readRanges call (not reset with `requests`). */
  requestTimes: number[] = [];
  bytes = 0;
  corrupt: ((r: BlobRange) => number | undefined) | undefined;
  fail: Error | undefined;
  constructor(private readonly blob: Buffer) {}
  get size() {
    return this.blob.length;
  }
  async readRanges(ranges: readonly BlobRange[]): Promise<Buffer[]> {
    this.requests.push([...ranges]);
    this.requestTimes.push(Date.now());
    await new Promise((r) => setTimeout(r, 2));
    if (this.fail) throw this.fail;
    return ranges.map((r) => {
      const out = Buffer.from(this.blob.subarray(r.offset, r.offset + r.length));
      const at = this.corrupt?.(r);
      if (at !== undefined && at >= 0 && at < out.length) out[at]! ^= 0xff;
      this.bytes += out.length;
      return out;
    });
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** Deterministic incompressible-ish bytes. */
function noise(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

let work: string;
let tree: string;
const files = new Map<string, Buffer>();

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'ctr-remote-lazy-'));
  tree = join(work, 'tree');
  await mkdir(join(tree, 'bin'), { recursive: true });
  await mkdir(join(tree, 'etc/conf.d'), { recursive: true });
  files.set('bin/big', noise(1_100_000, 1));
  files.set('etc/hosts', Buffer.from('127.0.0.1 localhost\n'));
  files.set('etc/conf.d/a', noise(70_000, 2));
  files.set('etc/empty', Buffer.alloc(0));
  for (let i = 0; i < 40; i++) files.set(`etc/many/f${String(i).padStart(2, '0')}`, noise(5000 + i, 10 + i));
  await mkdir(join(tree, 'etc/many'));
  for (const [p, d] of files) await writeFile(join(tree, p), d);
  await link(join(tree, 'etc/hosts'), join(tree, 'etc/hosts.hard'));
  await symlink('hosts', join(tree, 'etc/hosts.sym'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('LazyLayer over a blob built by the reference', () => {
  let ref: ReferenceBlob;
  let prio: ReferenceBlob;
  before(async () => {
    ref = await buildReferenceBlob(tree, { chunkSize: 256 << 10 });
    prio = await buildReferenceBlob(tree, { chunkSize: 256 << 10, prioritized: ['etc/hosts', 'etc/conf.d/a'] });
  });

  async function open(blob: ReferenceBlob, opts: Partial<LazyLayerOptions> = {}, cacheDir?: string) {
    const source = new CountingBlob(blob.blob);
    const dir = cacheDir ?? (await mkdtemp(join(work, 'cache-')));
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 30 });
    const layer = LazyLayer.open({
      layerDigest: 'sha256:' + sha(blob.blob),
      blob: source,
      index: blob.reader.index,
      cache,
      backgroundFetch: false,
      ...opts,
    });
    return { layer, source, cache, dir };
  }
  const entry = (blob: ReferenceBlob, path: string): TocFile => {
    const e = blob.reader.lookup(path);
    assert.ok(e instanceof TocFile, path);
    return e;
  };

  test('the index the layer serves from has every chunk the TOC declares (offset, member end, size, digest)', async () => {
    const { layer } = await open(ref);
    const toc = ref.reader.toc.entries;
    const offsets = [...new Set(toc.filter((e) => (e.type === 'reg' && (e.size ?? 0) > 0) || e.type === 'chunk').map((e) => e.offset ?? 0))].sort((a, b) => a - b);
    const memberEnd = (o: number) => offsets[offsets.indexOf(o) + 1] ?? ref.reader.tocOffset;
    let files = 0;
    for (const [i, e] of toc.entries()) {
      if (e.type !== 'reg' || !e.size) continue;
      const declared = [e];
      for (let j = i + 1; toc[j]?.type === 'chunk'; j++) declared.push(toc[j]!);
      const want = declared.map((c) => [c.chunkOffset ?? 0, c.chunkSize || e.size! - (c.chunkOffset ?? 0), c.offset ?? 0, memberEnd(c.offset ?? 0), c.chunkDigest]);
      const ours = entry(ref, e.name).chunks.map((c) => [c.fileOffset, c.size, c.member.offset, c.member.end, c.digest]);
      assert.deepEqual(ours, want, e.name);
      assert.equal(layer.index, ref.reader.index, 'one index, shared');
      files++;
    }
    assert.ok(files >= 40, `${files} files`);
    await layer.close();
  });

  test('every file reads back exactly, at odd offsets too', async () => {
    const { layer } = await open(ref);
    for (const [p, want] of files) {
      assert.deepEqual(await layer.readFileRange(entry(ref, p), 0, want.length + 10), want, p);
    }
    const big = files.get('bin/big')!;
    assert.deepEqual(await layer.readFileRange(entry(ref, 'bin/big'), 262_000, 300_000), big.subarray(262_000, 562_000));
    assert.deepEqual(await layer.readFileRange(entry(ref, 'bin/big'), big.length - 5, 100), big.subarray(-5));
    assert.equal((await layer.readFileRange(entry(ref, 'bin/big'), big.length + 1, 10)).length, 0);
    await layer.close();
  });

  test('one small file fetches only its member; the whole big file comes in one merged request', async () => {
    const { layer, source } = await open(ref, { readAheadBytes: 0 });
    const hosts = entry(ref, 'etc/hosts');
    await layer.readFileRange(hosts, 0, 100);
    const [c] = hosts.chunks;
    assert.equal(source.bytes, c!.member.end - c!.member.offset);
    assert.ok(source.bytes < 1000, String(source.bytes));
    source.requests = [];
    await layer.readFileRange(entry(ref, 'bin/big'), 0, 2 << 20);
    assert.equal(source.requests.length, 1);
    assert.equal(source.requests[0]!.length, 1, 'contiguous chunks merge into one range');
    assert.equal(layer.stats().chunksFetched, 1 + 5);
    await layer.close();
  });

  test('a miss also fetches up to 64 KiB of the members after it, in the same range', async () => {
    const { layer, source } = await open(ref);
    await layer.readFileRange(entry(ref, 'etc/many/f00'), 0, 10_000);
    assert.equal(source.requests.length, 1);
    assert.equal(source.requests[0]!.length, 1, 'one contiguous range');
    assert.ok(source.bytes > 5000 && source.bytes <= (64 << 10) + 6000, String(source.bytes));
    await layer.readFileRange(entry(ref, 'etc/many/f01'), 0, 10_000);
    await layer.readFileRange(entry(ref, 'etc/many/f05'), 0, 10_000);
    assert.equal(source.requests.length, 1, 'the next files were read ahead');
    await layer.close();
  });

  test('identical concurrent reads share one fetch', async () => {
    const { layer, source } = await open(ref);
    const a = entry(ref, 'etc/conf.d/a');
    const reads = await Promise.all([0, 1, 2, 3].map(() => layer.readFileRange(a, 0, 70_000)));
    for (const r of reads) assert.deepEqual(r, files.get('etc/conf.d/a'));
    assert.equal(source.requests.length, 1);
    await layer.close();
  });

  test('verified chunks are cached by digest and shared by a second layer on the same cache', async () => {
    const first = await open(ref);
    await first.layer.readFileRange(entry(ref, 'bin/big'), 0, 2 << 20);
    await first.layer.close();
    const second = await open(ref, {}, first.dir);
    assert.deepEqual(await second.layer.readFileRange(entry(ref, 'bin/big'), 0, 2 << 20), files.get('bin/big'));
    assert.equal(second.source.bytes, 0);
    assert.equal(second.layer.stats().cacheHits, 5);
    const third = await open(prio, { prefetch: false }, first.dir);
    await third.layer.readFileRange(entry(prio, 'bin/big'), 0, 2 << 20);
    assert.equal(third.source.bytes, 0, 'same chunk digests in another blob are not fetched again');
    await second.layer.close();
    await third.layer.close();
  });

  test('one decode path: a member that does not decompress is the same DigestMismatch for the lazy layer and the verifying reader', async () => {
    const a = entry(ref, 'etc/conf.d/a');
    const at = a.chunks[0]!.member.offset;
    const bad = Buffer.from(ref.blob);
    bad[at]! ^= 0xff; // the gzip magic is gone: nothing decompresses (the same flip as CountingBlob.corrupt)
    const reader = await openEStargz(new BufferRangeReader(bad), { tocDigest: ref.tocDigest });
    const fromReader = await reader.readFile(reader.lookup('etc/conf.d/a')!, 0, 10).then(() => undefined, (e: unknown) => e);
    assert.ok(isCtrError(fromReader, 'DigestMismatch'), `reader: ${String(fromReader)}`);
    assert.match(fromReader.message, /^etc\/conf\.d\/a: member at offset \d+ does not decompress/);
    const { layer, source } = await open(ref);
    source.corrupt = (r) => (at >= r.offset && at < r.offset + r.length ? at - r.offset : undefined);
    const fromLayer = await layer.readFileRange(a, 0, 10).then(() => undefined, (e: unknown) => e);
    await layer.close();
    assert.ok(isCtrError(fromLayer, 'DigestMismatch'), `layer: ${String(fromLayer)}`);
    assert.ok(fromLayer.message.endsWith(fromReader.message), `${fromLayer.message} / ${fromReader.message}`);
  });

  test('a corrupted chunk fails with DigestMismatch, is counted, never cached; a clean retry succeeds', async () => {
    const { layer, source, cache } = await open(ref);
    const a = entry(ref, 'etc/conf.d/a');
    const [c] = a.chunks;
    source.corrupt = (r) => c!.member.offset - r.offset + 40;
    await assert.rejects(layer.readFileRange(a, 0, 10), (e) => isCtrError(e, 'DigestMismatch'));
    assert.equal(cache.has(c!.digest!), false);
    const st = layer.stats();
    assert.equal(st.digestMismatches, 1);
    assert.match(st.lastError?.message ?? '', /etc\/conf\.d\/a/);
    source.corrupt = undefined;
    assert.deepEqual(await layer.readFileRange(a, 0, 70_000), files.get('etc/conf.d/a'));
    assert.equal(cache.has(c!.digest!), true);
    await layer.close();
  });

  test('fetch errors surface with their code and are counted', async () => {
    const { layer, source } = await open(ref);
    source.fail = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
    await assert.rejects(layer.readFileRange(entry(ref, 'etc/hosts'), 0, 10), /connection reset/);
    assert.equal(layer.stats().errors, 1);
    source.fail = undefined;
    assert.deepEqual(await layer.readFileRange(entry(ref, 'etc/hosts'), 0, 100), files.get('etc/hosts'));
    await layer.close();
  });

  test('a read aborted by its signal rejects at once while the shared fetch completes', async () => {
    const { layer, cache } = await open(ref);
    const a = entry(ref, 'etc/conf.d/a');
    const ac = new AbortController();
    const aborted = layer.readFileRange(a, 0, 10, ac.signal);
    const other = layer.readFileRange(a, 0, 10);
    ac.abort(new Error('interrupted'));
    await assert.rejects(aborted, /interrupted/);
    assert.deepEqual(await other, files.get('etc/conf.d/a')!.subarray(0, 10));
    assert.equal(cache.has(a.chunks[0]!.digest!), true);
    await layer.close();
  });

  test("a read's signal is made only when the read has to wait: not for chunks in memory", async () => {
    const { layer } = await open(ref);
    const a = entry(ref, 'etc/conf.d/a');
    let made = 0;
    const ac = new AbortController();
    const source = () => {
      made++;
      return ac.signal;
    };
    assert.deepEqual(await layer.readFileRange(a, 0, 10, source), files.get('etc/conf.d/a')!.subarray(0, 10));
    assert.equal(made, 1, 'fetched from the registry: the signal was made');
    assert.deepEqual(await layer.readFileRange(a, 5, 10, source), files.get('etc/conf.d/a')!.subarray(5, 15));
    assert.equal(made, 1, 'served from memory: no signal');
    const interrupted = new AbortController();
    interrupted.abort(new Error('interrupted'));
    const big = entry(ref, 'bin/big');
    await assert.rejects(layer.readFileRange(big, big.size - 5, 5, () => interrupted.signal), /interrupted/, 'a made signal is honoured');
    await layer.close();
  });

  test('prefetch fetches [0, .prefetch.landmark) in one range and caches the prioritized files', async () => {
    const { layer, source } = await open(prio);
    await layer.prefetched();
    const landmark = entry(prio, '.prefetch.landmark').chunks[0]?.member.offset;
    assert.ok(landmark);
    assert.equal(layer.index.prefetchEnd, landmark);
    assert.deepEqual(source.requests, [[{ offset: layer.index.members[0]!.offset, length: landmark - layer.index.members[0]!.offset }]]);
    assert.equal(layer.stats().prefetch.phase, 'done');
    const before = source.bytes;
    assert.deepEqual(await layer.readFileRange(entry(prio, 'etc/conf.d/a'), 0, 70_000), files.get('etc/conf.d/a'));
    assert.deepEqual(await layer.readFileRange(entry(prio, 'etc/hosts'), 0, 100), files.get('etc/hosts'));
    assert.equal(source.bytes, before, 'prioritized files are served from the prefetched cache');
    await layer.close();
  });

  test('no prefetch without a landmark (.no.prefetch.landmark)', async () => {
    const { layer, source } = await open(ref);
    await layer.prefetched();
    assert.equal(source.requests.length, 0);
    assert.equal(layer.stats().prefetch.phase, 'off');
    await layer.close();
  });

  test('background fetch makes the whole layer local, then reads fetch nothing; state file written', async () => {
    const stateFile = join(work, 'state', 'state.json');
    const { layer, source, cache } = await open(ref, { backgroundFetch: true, backgroundBatchBytes: 128 << 10, stateFile });
    await layer.backgroundDone();
    const st = layer.stats();
    const digests = [...files.keys()].flatMap((p) => entry(ref, p).chunks.map((c) => c.digest!));
    assert.ok(digests.every((d) => cache.has(d)), 'every chunk is in the cache');
    assert.deepEqual(digests.filter((d) => cache.inMemory(d)), [], 'background chunks go to disk only, not to the memory LRU');
    assert.equal(st.background.phase, 'done');
    assert.equal(st.background.membersDone, st.background.membersTotal);
    assert.ok(source.requests.length > 3, 'fetched in several batches');
    assert.ok(source.bytes <= ref.reader.tocOffset, `${source.bytes} > ${ref.reader.tocOffset}`);
    const fetched = source.bytes;
    for (const [p, want] of files) assert.deepEqual(await layer.readFileRange(entry(ref, p), 0, want.length), want);
    assert.equal(source.bytes, fetched);
    await layer.close();
    const saved = await readLayerState(stateFile);
    assert.equal(saved?.bytesFetched, fetched);
    assert.equal(saved?.background.phase, 'done');
    const chunkCount = [...files.keys()].reduce((n, p) => n + entry(ref, p).chunks.length, 0);
    assert.equal(saved?.cacheHits, st.cacheHits + chunkCount);
  });

  test('foreground reads pre-empt the background fetch', async () => {
    const { layer, source } = await open(ref, { backgroundFetch: true, backgroundBatchBytes: 16 << 10, idleMs: 200 });
    // Read once the background fetch has started (polled: after a fixed sleep it could already be over on a
    // slow machine, or not started on a fast one).
    for (const deadline = Date.now() + 10_000; source.requestTimes.length === 0; await new Promise((r) => setTimeout(r, 1))) {
      assert.ok(Date.now() < deadline, 'the background fetch started');
    }
    const readStart = Date.now();
    await layer.readFileRange(entry(ref, 'etc/hosts'), 0, 100);
    assert.ok(Date.now() - readStart < 1000, 'the read did not wait for the background fetch');
    assert.notEqual(layer.stats().background.phase, 'done', 'the read came while the background fetch was running');
    const requestsAfterRead = source.requestTimes.length;
    await new Promise((r) => setTimeout(r, 100));
    // Judged by when each later request was made, not by how long the sleep took (longer on a loaded machine).
    for (const at of source.requestTimes.slice(requestsAfterRead)) {
      assert.ok(at - readStart >= 200, `a background request ${at - readStart} ms after the read began (idleMs 200)`);
    }
    await layer.close();
  });
  test('decoding asks the process for a garbage collection after every so many bytes of member buffers let go', async () => {
    const every = 256 << 10;
    let collections = 0;
    const garbage = new GarbagePacer(() => collections++, { everyBytes: every, schedule: (run) => run(), now: () => 0 });
    const { layer } = await open(ref, { backgroundFetch: true, backgroundBatchBytes: 64 << 10, idleMs: 0, budgets: { ...newBudgets(), garbage } });
    await layer.backgroundDone();
    assert.equal(layer.stats().background.phase, 'done');
    // every member counts its compressed bytes and the decoded bytes its chunks need
    const members = ref.reader.index.members.filter((m) => m.chunks.some((c) => c.digest));
    const letGo = members.reduce((n, m) => n + (m.end - m.offset) + Math.max(...m.chunks.map((c) => c.innerOffset + c.size)), 0);
    assert.ok(letGo > 4 * every, `the layer decodes ${letGo} bytes, several thresholds`);
    // one collection per threshold crossed; a member larger than the threshold crosses it once
    assert.ok(collections >= 2 && collections <= Math.floor(letGo / every), `${collections} collections for ${letGo} bytes, one per ${every} at most`);
    assert.equal(collections, garbage.collections.major + garbage.collections.minor);
    await layer.close();
  });

  test('background batches of every layer share one process-wide limit; a closing layer leaves its queue at once', async () => {
    // two layers, each with its own cache so both must fetch everything, on one blob whose requests take 20 ms
    let inFlight = 0;
    let peak = 0;
    class SlowBlob extends CountingBlob {
      override async readRanges(ranges: readonly BlobRange[]): Promise<Buffer[]> {
        const bytes = ranges.reduce((n, r) => n + r.length, 0);
        inFlight += bytes;
        peak = Math.max(peak, inFlight);
        try {
          await new Promise((r) => setTimeout(r, 20));
          return await super.readRanges(ranges);
        } finally {
          inFlight -= bytes;
        }
      }
    }
    const batch = 128 << 10;
    const budgets = { ...newBudgets(), background: new TaskLimit(1) }; // one batch at a time (the process's allows BACKGROUND_BATCHES)
    const layers = await Promise.all([0, 1].map(async () => {
      const cache = await ChunkCache.open({ dir: await mkdtemp(join(work, 'cache-')), maxBytes: 1 << 30 });
      return LazyLayer.open({ layerDigest: 'sha256:' + sha(ref.blob), blob: new SlowBlob(ref.blob), index: ref.reader.index, cache, budgets, backgroundFetch: true, backgroundBatchBytes: batch, idleMs: 0 });
    }));
    await Promise.all(layers.map((l) => l.backgroundDone()));
    for (const l of layers) assert.equal(l.stats().background.phase, 'done');
    const biggestMember = Math.max(...ref.reader.index.members.map((m) => m.end - m.offset));
    assert.ok(peak <= batch + biggestMember, `background bytes in flight at once: ${peak}, one batch of ${batch} (+ one member of ${biggestMember} a batch may overshoot by)`);
    assert.ok(peak > 0);

    // a layer waiting for the limit closes without waiting for the other layer's batch
    let hold!: () => void;
    const busy = budgets.background.run(() => new Promise<void>((r) => (hold = r)));
    const cache = await ChunkCache.open({ dir: await mkdtemp(join(work, 'cache-')), maxBytes: 1 << 30 });
    const waiting = LazyLayer.open({ layerDigest: 'sha256:' + sha(ref.blob), blob: new SlowBlob(ref.blob), index: ref.reader.index, cache, budgets, backgroundFetch: true, backgroundBatchBytes: batch, idleMs: 0 });
    for (const deadline = Date.now() + 10_000; waiting.stats().background.phase !== 'running'; await new Promise((r) => setTimeout(r, 1))) {
      assert.ok(Date.now() < deadline, 'the background fetch started waiting');
    }
    const closeStart = Date.now();
    await waiting.close();
    assert.ok(Date.now() - closeStart < 5_000, 'close did not wait for the limit');
    assert.equal(waiting.stats().background.membersDone, 0, 'nothing was fetched while the limit was held');
    hold();
    await busy;
    for (const l of layers) await l.close();
  });
});


/** A CountingBlob that also streams: it hands over `pauseAt` bytes of a streamed range, then waits for `resume()` (or fails with `failAfterPause`). */
class PausingStreamBlob extends CountingBlob {
  streams = 0;
  pauseAt = 0;
  failAfterPause: Error | undefined;
  private release: () => void = () => {};
  private readonly paused = new Promise<void>((r) => (this.release = r));
  /** Resolves when a stream has handed over its first part. */
  reachedPause: Promise<void>;
  private markReached: () => void = () => {};
  constructor(private readonly data: Buffer) {
    super(data);
    this.reachedPause = new Promise((r) => (this.markReached = r));
  }
  resume(): void {
    this.release();
  }
  async streamRange(range: BlobRange, onBytes: (b: Buffer) => void): Promise<void> {
    this.streams++;
    const all = this.data.subarray(range.offset, range.offset + range.length);
    const cut = Math.min(this.pauseAt, all.length);
    onBytes(Buffer.from(all.subarray(0, cut)));
    this.markReached();
    await this.paused;
    if (this.failAfterPause) throw this.failAfterPause;
    onBytes(Buffer.from(all.subarray(cut)));
  }
}

describe('LazyLayer streaming a large range', () => {
  let ref: ReferenceBlob;
  before(async () => {
    ref = await buildReferenceBlob(tree, { chunkSize: 256 << 10 });
  });
  const big = () => {
    const e = ref.reader.lookup('bin/big');
    assert.ok(e instanceof TocFile);
    return e;
  };
  async function open(source: PausingStreamBlob) {
    const cache = await ChunkCache.open({ dir: await mkdtemp(join(work, 'cache-')), maxBytes: 1 << 30 });
    return LazyLayer.open({ layerDigest: 'sha256:' + sha(ref.blob), blob: source, index: ref.reader.index, cache, backgroundFetch: false, prefetch: false, readAheadBytes: 0 });
  }

  test('members that have arrived are served while the rest of the range is still coming', async () => {
    const source = new PausingStreamBlob(ref.blob);
    const file = big();
    const first = file.chunks[0]!.member;
    source.pauseAt = first.end - first.offset + 10; // the first member and a few bytes of the second
    const layer = await open(source);
    const whole = layer.readFileRange(file, 0, file.size);
    assert.equal(await Promise.race([source.reachedPause.then(() => 'streaming'), whole.then(() => 'read without a stream')]), 'streaming');
    // the first chunk's read resolves now, before the stream goes on (it is still paused)
    const head = await layer.readFileRange(file, 0, 1000);
    assert.deepEqual(head, files.get('bin/big')!.subarray(0, 1000));
    assert.equal(source.streams, 1, 'one streamed request for the whole file');
    assert.equal(source.requests.length, 0, 'no other request: the first member came from the stream');
    source.resume();
    assert.deepEqual(await whole, files.get('bin/big'));
    assert.equal(layer.stats().bytesFetched, file.chunks.at(-1)!.member.end - first.offset);
    await layer.close();
  });

  test('a streamed range over a gap (a member already cached) and in odd-sized pieces gives every member its own exact bytes', async () => {
    class PiecesBlob extends CountingBlob {
      streamed: BlobRange[] = [];
      async streamRange(range: BlobRange, onBytes: (b: Buffer) => void): Promise<void> {
        this.streamed.push(range);
        for (let at = 0; at < range.length; at += 777) onBytes(Buffer.from(ref.blob.subarray(range.offset + at, range.offset + Math.min(at + 777, range.length))));
      }
    }
    const source = new PiecesBlob(ref.blob);
    const file = big();
    assert.ok(file.chunks.length >= 4, 'bin/big has several members');
    const cache = await ChunkCache.open({ dir: await mkdtemp(join(work, 'cache-')), maxBytes: 1 << 30 });
    const layer = LazyLayer.open({ layerDigest: 'sha256:' + sha(ref.blob), blob: source, index: ref.reader.index, cache, backgroundFetch: false, prefetch: false, readAheadBytes: 0, plan: { maxGap: 1 << 20 } });
    const middle = file.chunks[2]!;
    await layer.readFileRange(file, middle.fileOffset, 10); // its member is cached now
    assert.equal(source.streamed.length, 0);
    assert.deepEqual(await layer.readFileRange(file, 0, file.size), files.get('bin/big'));
    assert.equal(source.streamed.length, 1, 'the other members came in one streamed range');
    const [range] = source.streamed;
    assert.ok(range!.offset <= file.chunks[0]!.member.offset && range!.offset + range!.length >= file.chunks.at(-1)!.member.end, 'the range spans the file, over the cached member');
    assert.equal(layer.stats().errors, 0);
    await layer.close();
  });

  test('a streamed prefetch lets go of each member\'s decoded chunks once they are cached, not at its end', async () => {
    const prio = await buildReferenceBlob(tree, { chunkSize: 64 << 10, prioritized: ['bin/big'] });
    const file = prio.reader.lookup('bin/big');
    assert.ok(file instanceof TocFile && file.chunks.length >= 8, 'bin/big has many members');
    const source = new PausingStreamBlob(prio.blob);
    const last = file.chunks.at(-1)!.member;
    source.pauseAt = last.offset - 100; // every member of bin/big but the last has come
    const cache = await ChunkCache.open({ dir: await mkdtemp(join(work, 'cache-')), maxBytes: 1 << 30, memoryMaxBytes: 0 });
    const kept: WeakRef<Buffer>[] = [];
    const put = cache.put.bind(cache);
    cache.put = (digest, data, options) => {
      kept.push(new WeakRef(data));
      return put(digest, data, options);
    };
    const layer = LazyLayer.open({ layerDigest: 'sha256:' + sha(prio.blob), blob: source, index: prio.reader.index, cache, backgroundFetch: false });
    await source.reachedPause;
    // until the chunks that came are on disk (a write in progress holds its bytes)
    for (const deadline = Date.now() + 10_000; kept.length < file.chunks.length - 1 || cache.stats().writes < kept.length; await new Promise((r) => setTimeout(r, 5))) {
      assert.ok(Date.now() < deadline, `${kept.length} chunks cached while the prefetch is paused`);
    }
    const gc = garbageCollector();
    assert.ok(gc, 'this runtime offers a collector');
    gc('major');
    const alive = kept.filter((w) => w.deref() !== undefined).length;
    assert.equal(alive, 0, `${alive} of ${kept.length} decoded chunks still alive while the prefetch waits for its last member`);
    assert.equal(layer.stats().prefetch.phase, 'running');
    source.resume();
    await layer.prefetched();
    assert.equal(layer.stats().prefetch.phase, 'done');
    await layer.close();
  });

  test('a stream failing midway fails only the members not yet complete (EIO), and the failure is recorded', async () => {
    const source = new PausingStreamBlob(ref.blob);
    const file = big();
    const first = file.chunks[0]!.member;
    source.pauseAt = first.end - first.offset + 10;
    source.failAfterPause = new Error('connection reset');
    const layer = await open(source);
    const whole = layer.readFileRange(file, 0, file.size).then(() => undefined, (e: unknown) => e);
    assert.equal(await Promise.race([source.reachedPause.then(() => 'streaming'), whole.then(() => 'read without a stream')]), 'streaming');
    source.resume();
    const err = await whole;
    assert.ok(isCtrError(err, 'Unavailable'), String(err));
    assert.match((err as Error).message, /connection reset/);
    assert.match(layer.stats().lastError?.message ?? '', /connection reset/);
    // the member that had arrived was verified and cached: reading it again fetches nothing
    source.requests = [];
    assert.deepEqual(await layer.readFileRange(file, 0, 1000), files.get('bin/big')!.subarray(0, 1000));
    assert.equal(source.requests.length + source.streams, 1, 'only the first (failed) stream');
    await layer.close();
  });
});

/** A CountingBlob that streams ranges in 1,000-byte pieces; `gate` (if set) is awaited after the first piece of each stream. */
class StreamingBlob extends CountingBlob {
  streamed: BlobRange[] = [];
  streamedBytes = 0;
  gate: Promise<void> | undefined;
  firstPiece: () => void = () => {};
  constructor(private readonly whole: Buffer) {
    super(whole);
  }
  async streamRange(range: BlobRange, onBytes: (b: Buffer) => void | Promise<void>, options?: { signal?: AbortSignal }): Promise<void> {
    this.streamed.push(range);
    const bytes = Buffer.from(this.whole.subarray(range.offset, range.offset + range.length));
    const at = this.corrupt?.(range);
    if (at !== undefined && at >= 0 && at < bytes.length) bytes[at]! ^= 0xff;
    for (let i = 0; i < bytes.length; i += 1000) {
      options?.signal?.throwIfAborted();
      this.streamedBytes += Math.min(1000, bytes.length - i);
      await onBytes(bytes.subarray(i, i + 1000));
      if (i === 0) {
        this.firstPiece();
        if (this.gate) await this.gate;
      }
    }
  }
}

describe('LazyLayer background fetch into the cache, as a stream', () => {
  let ref: ReferenceBlob;
  before(async () => {
    ref = await buildReferenceBlob(tree, { chunkSize: 256 << 10 });
  });
  const entry = (path: string): TocFile => {
    const e = ref.reader.lookup(path);
    assert.ok(e instanceof TocFile, path);
    return e;
  };
  async function open(source: StreamingBlob, opts: Partial<LazyLayerOptions> = {}) {
    const dir = await mkdtemp(join(work, 'cache-'));
    const cache = await ChunkCache.open({ dir, maxBytes: 1 << 30 });
    const layer = LazyLayer.open({ layerDigest: 'sha256:' + sha(ref.blob), blob: source, index: ref.reader.index, cache, backgroundFetch: true, prefetch: false, backgroundBatchBytes: 128 << 10, idleMs: 0, ...opts });
    return { layer, cache, dir };
  }
  const digests = () => [...files.keys()].flatMap((p) => entry(p).chunks.map((c) => c.digest!));
  const temps = (dir: string) => readdir(join(dir, 'chunks', 'tmp'));

  test('every member is decoded into the cache as it streams: all chunks on disk, none in memory, nothing fetched whole, no temp file left', async () => {
    const source = new StreamingBlob(ref.blob);
    const { layer, cache, dir } = await open(source);
    await layer.backgroundDone();
    const st = layer.stats();
    assert.equal(st.background.phase, 'done');
    assert.ok(digests().every((d) => cache.has(d)), 'every chunk is in the cache');
    assert.deepEqual(digests().filter((d) => cache.inMemory(d)), [], 'none went to the memory LRU');
    assert.equal(source.requests.length, 0, 'no range was fetched whole');
    assert.ok(source.streamed.length > 3, `${source.streamed.length} streamed batches`);
    assert.equal(st.errors, 0);
    assert.equal(st.chunksFetched, ref.reader.index.members.reduce((n, m) => n + m.chunks.filter((c) => c.digest).length, 0), 'each chunk decoded once');
    assert.deepEqual(await temps(dir), []);
    const fetched = source.streamedBytes;
    assert.equal(st.bytesFetched, fetched);
    for (const [p, want] of files) assert.deepEqual(await layer.readFileRange(entry(p), 0, want.length), want);
    assert.equal(source.streamedBytes + source.bytes, fetched, 'the reads fetched nothing');
    await layer.close();
  });

  test('a corrupted member is never stored: counted as a DigestMismatch, and a read of it is DigestMismatch too', async () => {
    const source = new StreamingBlob(ref.blob);
    const victim = entry('etc/conf.d/a').chunks[0]!.member;
    // flip a byte inside the victim member, whichever range carries it (stream or whole fetch)
    source.corrupt = (r) => (r.offset <= victim.offset + 20 && victim.offset + 20 < r.offset + r.length ? victim.offset + 20 - r.offset : undefined);
    const { layer, cache, dir } = await open(source);
    await layer.backgroundDone();
    const st = layer.stats();
    assert.ok(st.digestMismatches >= 1, `digest mismatches: ${st.digestMismatches}`);
    assert.ok(!victim.chunks.some((c) => cache.has(c.digest!)), 'no chunk of the corrupted member is stored');
    assert.deepEqual(await temps(dir), [], 'its temp files are gone');
    await assert.rejects(layer.readFileRange(entry('etc/conf.d/a'), 0, 100), (e: unknown) => isCtrError(e, 'DigestMismatch'));
    source.corrupt = undefined;
    assert.deepEqual(await layer.readFileRange(entry('etc/conf.d/a'), 0, 100), files.get('etc/conf.d/a')!.subarray(0, 100));
    await layer.close();
  });

  test('a read of a member being streamed into the cache waits for it and reads the cache: no second fetch', async () => {
    const source = new StreamingBlob(ref.blob);
    let release!: () => void;
    source.gate = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (source.firstPiece = r));
    const big = entry('bin/big');
    // one batch large enough for the whole file, so the first stream carries its first member
    const { layer } = await open(source, { backgroundBatchBytes: 4 << 20 });
    await started;
    const read = layer.readFileRange(big, 0, 1000);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(source.requests.length, 0, 'the read did not fetch on its own');
    release();
    assert.deepEqual(await read, files.get('bin/big')!.subarray(0, 1000));
    assert.equal(source.requests.length, 0, 'nor after the stream');
    assert.equal(source.streamed.length, 1, 'one streamed range');
    await layer.close();
  });

  test('closing the layer mid-stream stores no partial chunk and leaves no temp file', async () => {
    const source = new StreamingBlob(ref.blob);
    let release!: () => void;
    source.gate = new Promise<void>((r) => (release = r));
    const started = new Promise<void>((r) => (source.firstPiece = r));
    const { layer, cache, dir } = await open(source, { backgroundBatchBytes: 4 << 20 });
    await started;
    const closing = layer.close();
    release();
    await closing;
    assert.ok(!entry('bin/big').chunks.some((c) => cache.has(c.digest!)), 'no chunk of the cut stream is stored');
    assert.deepEqual(await temps(dir), []);
  });
});
