// The content-addressed cache of verified, uncompressed chunks shared by every lazily mounted layer:
// `<dir>/chunks/sha256/<hex>` keyed by the chunk's `chunkDigest`, so identical chunks of different layers and
// images are stored once (the reference keys its cache by layer). Writes go temp file → rename, so a reader
// never sees a partial chunk. A byte-bounded LRU in memory sits in front; the disk is bounded by `maxBytes`
// with least-recently-used eviction (recency = file mtime, refreshed on the first disk hit of each process).
// A chunk file is hashed at most once per cache instance (one per process): when it wrote it (put() takes only verified
// bytes) or already hashed it, its name is trusted; one written by an earlier process is hashed on its first
// load, which catches disk corruption and tampering without re-hashing every 4 MiB on every load.

import { createHash, randomBytes } from 'node:crypto';
import { close as fsClose, closeSync, open as fsOpen, openSync, read as fsRead, readSync, statSync, write as fsWrite } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, statfs, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex } from '../oci/digest.js';
import { ByteLru } from './byte-lru.js';
import { SharedFlights, raceSignal } from './shared-flights.js';

/** Upper bound of the default disk budget: 10 GiB. */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 2 ** 30;
/**
 * Default in-memory LRU budget: 16 MiB (four 4 MiB chunks: enough for the kernel's consecutive 1 MiB reads of a
 * chunk, several files at once, and the next 1 MiB of small members warmed ahead). 32 MiB read a cached root
 * filesystem ~5% faster and cost its process 12-23 MiB more at peak (docs/DECISIONS.md).
 */
export const DEFAULT_MEMORY_MAX_BYTES = 16 * 2 ** 20;
const STALE_TEMP_MS = 60 * 60 * 1000;
/**
 * Chunks up to this size are read from disk synchronously: one small read costs less than the three
 * threadpool round trips (open, read, close) of an async read, and a tree of small files is served one
 * file at a time anyway (measured: see docs/benchmarks/lazy.md).
 */
const SYNC_READ_MAX_BYTES = 128 << 10;
/** Chunk files stat'ed in one turn of the event loop when a cache is opened (~16 ms). */
const SCAN_SLICE = 2048;
/** Delay before refreshed mtimes are written, so that a burst of reads is not slowed by them. */
const TOUCH_DELAY_MS = 2000;

/** Options of ChunkCache.open. */
export interface ChunkCacheOptions {
  /** The cache directory (`<root>/cache`); chunks live under `chunks/sha256/`. */
  dir: string;
  /** Disk budget in bytes. Default: min(10 GiB, half of (free space + current cache size)) at open. */
  maxBytes?: number;
  /** In-memory LRU budget in bytes. Default DEFAULT_MEMORY_MAX_BYTES (16 MiB); 0 disables it. */
  memoryMaxBytes?: number;
  /** Hash each chunk file once per process on its first load and drop it if it does not match its name. Default true. */
  verifyOnLoad?: boolean;
}

/** Counters of one cache instance (this process only). */
export interface ChunkCacheStats {
  memoryHits: number;
  diskHits: number;
  misses: number;
  writes: number;
  evictions: number;
  /** Chunks on disk whose content no longer matched their digest (dropped). */
  corrupt: number;
  /** Bytes on disk known to this instance. */
  diskBytes: number;
  maxBytes: number;
}

/** A chunk being stored piece by piece (ChunkCache.writer). */
export interface ChunkWriter {
  /** The chunk's next bytes. */
  write(piece: Buffer): Promise<void>;
  /** The caller verified every byte: make the chunk visible under its digest. */
  commit(): Promise<void>;
  /** Forget the bytes written (a failed or rejected chunk). */
  discard(): Promise<void>;
}

/** Disk + memory cache of verified chunks keyed by sha256 digest. Returned buffers must not be modified. */
export class ChunkCache {
  private readonly memory: ByteLru<string>;
  /** hex → size, least recently used first. */
  private readonly index = new Map<string, number>();
  private diskBytes = 0;
  /** Disk loads in progress, shared by concurrent gets of the same chunk (the kernel reads ahead in parallel). */
  private readonly loads = new SharedFlights<string, Buffer | undefined>();
  private readonly counters = { memoryHits: 0, diskHits: 0, misses: 0, writes: 0, evictions: 0, corrupt: 0 };
  /** Chunk files known good in this process (written by it, or hashed once); their names are trusted. */
  private readonly trusted = new Set<string>();
  /** Chunk files whose mtime this process already refreshed (recency for the next process's scan). */
  private readonly touched = new Set<string>();
  private readonly pendingTouches = new Set<string>();
  private touchTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly chunkDir: string,
    private readonly tempDir: string,
    private maxBytes: number,
    memoryMaxBytes: number,
    private readonly verifyOnLoad: boolean,
  ) {
    this.memory = new ByteLru(memoryMaxBytes);
  }

  /** Open (creating if needed) the cache under `options.dir` and index what is already on disk. */
  static async open(options: ChunkCacheOptions): Promise<ChunkCache> {
    const chunkDir = join(options.dir, 'chunks', 'sha256');
    const tempDir = join(options.dir, 'chunks', 'tmp');
    await mkdir(chunkDir, { recursive: true });
    await mkdir(tempDir, { recursive: true });
    const cache = new ChunkCache(chunkDir, tempDir, options.maxBytes ?? 0, options.memoryMaxBytes ?? DEFAULT_MEMORY_MAX_BYTES, options.verifyOnLoad ?? true);
    await cache.scan();
    await removeStaleTemps(tempDir);
    if (options.maxBytes === undefined) cache.maxBytes = await defaultMaxBytes(options.dir, cache.diskBytes);
    await cache.evict();
    return cache;
  }

  /** True when the chunk is known to be on disk or in memory (no I/O). */
  has(digest: string): boolean {
    return this.index.has(digestHex(digest)) || this.memory.has(digest);
  }

  /** True when the chunk is in the memory LRU (no I/O, no recency change). */
  inMemory(digest: string): boolean {
    return this.memory.has(digest);
  }

  /**
   * Start loading an on-disk chunk into memory without waiting: read-ahead of what will probably be read
   * next, in the threadpool, overlapping the serving of the current read. A no-op when the chunk is in
   * memory, already loading, or not on disk.
   */
  warm(digest: string): void {
    if (this.memory.has(digest)) return;
    const hex = digestHex(digest);
    if (this.loads.has(hex) || !this.index.has(hex)) return;
    this.loads.run(hex, () => this.readDisk(hex, false)).then((data) => {
      if (data) this.memory.set(digest, data);
    }, () => undefined);
  }

  /** The chunk's bytes, or undefined on a miss (a corrupt file on disk counts as a miss and is removed). */
  async get(digest: string, signal?: AbortSignal): Promise<Buffer | undefined> {
    const fromMemory = this.memory.get(digest);
    const hex = digestHex(digest);
    if (fromMemory) {
      this.counters.memoryHits++;
      this.bump(hex);
      return fromMemory;
    }
    const data = await raceSignal(this.loads.run(hex, () => this.readDisk(hex)), signal);
    if (!data) {
      this.counters.misses++;
      return undefined;
    }
    this.counters.diskHits++;
    this.memory.set(digest, data);
    return data;
  }

  /** Store a chunk the caller has verified against `digest`; atomic (temp file + rename). `memory: false`: on disk only (not kept in the memory LRU). */
  async put(digest: string, data: Buffer, options: { memory?: boolean } = {}): Promise<void> {
    const hex = digestHex(digest);
    if (options.memory !== false) this.memory.set(digest, data);
    if (this.index.has(hex)) {
      this.bump(hex);
      return this.touch(hex);
    }
    const temp = join(this.tempDir, `${hex}.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      await writeFile(temp, data);
      await rename(temp, join(this.chunkDir, hex));
    } catch (e) {
      await rm(temp, { force: true });
      throw e;
    }
    this.counters.writes++;
    this.trusted.add(hex);
    this.touched.add(hex);
    this.remember(hex, data.length);
    await this.evict(hex);
  }

  /**
   * Store a chunk as its bytes come (the background fetch decodes members as a stream): they go to a temp file
   * of their own, which commit() renames into place once the caller has verified the whole chunk against
   * `digest`; discard() removes it. Nothing is visible before commit, and nothing is kept in memory.
   */
  writer(digest: string): ChunkWriter {
    const hex = digestHex(digest);
    const temp = join(this.tempDir, `${hex}.${process.pid}.${randomBytes(4).toString('hex')}`);
    let fd: number | undefined;
    let size = 0;
    let finished = false;
    const opened = async (): Promise<number> => (fd ??= await new Promise<number>((res, rej) => fsOpen(temp, 'wx', 0o644, (e, n) => (e ? rej(e) : res(n)))));
    const closed = async (): Promise<void> => {
      if (fd === undefined) return;
      const n = fd;
      fd = undefined;
      await new Promise<void>((res, rej) => fsClose(n, (e) => (e ? rej(e) : res())));
    };
    return {
      write: async (piece) => {
        const n = await opened();
        for (let off = 0; off < piece.length; ) {
          off += await new Promise<number>((res, rej) => fsWrite(n, piece, off, piece.length - off, size + off, (e, k) => (e ? rej(e) : res(k))));
        }
        size += piece.length;
      },
      commit: async () => {
        if (finished) return;
        finished = true;
        try {
          if (this.index.has(hex)) {
            // stored meanwhile (the same chunk in another member or layer): keep that one
            await closed();
            await rm(temp, { force: true });
            this.bump(hex);
            return;
          }
          await opened();
          await closed();
          await rename(temp, join(this.chunkDir, hex));
        } catch (e) {
          await closed().catch(() => undefined);
          await rm(temp, { force: true });
          throw e;
        }
        this.counters.writes++;
        this.trusted.add(hex);
        this.touched.add(hex);
        this.remember(hex, size);
        await this.evict(hex);
      },
      discard: async () => {
        if (finished) return;
        finished = true;
        await closed().catch(() => undefined);
        await rm(temp, { force: true });
      },
    };
  }

  /** Drop the chunks held in memory (each is on disk, or was only ever wanted in memory); returns their bytes. */
  dropMemory(): number {
    return this.memory.clear();
  }

  /** Counters and sizes. */
  stats(): ChunkCacheStats {
    return { ...this.counters, diskBytes: this.diskBytes, maxBytes: this.maxBytes };
  }

  private async readDisk(hex: string, allowSync = true): Promise<Buffer | undefined> {
    const path = join(this.chunkDir, hex);
    let data: Buffer;
    try {
      const size = this.index.get(hex);
      if (size === undefined) data = await readFile(path);
      else data = allowSync && size <= SYNC_READ_MAX_BYTES ? readSmallSync(path, size) : await readSized(path, size);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      this.forget(hex);
      return undefined;
    }
    if (this.verifyOnLoad && !this.trusted.has(hex)) {
      if (createHash('sha256').update(data).digest('hex') !== hex) {
        this.counters.corrupt++;
        this.forget(hex);
        await unlink(path).catch(() => undefined);
        return undefined;
      }
      this.trusted.add(hex);
    }
    this.remember(hex, data.length);
    this.touch(hex);
    return data;
  }

  /** Refresh a chunk's mtime once per instance, in batches off the read path (see flushTouches). */
  private touch(hex: string): void {
    if (this.touched.has(hex)) return;
    this.touched.add(hex);
    this.pendingTouches.add(hex);
    if (!this.touchTimer) this.touchTimer = setTimeout(() => void this.flushTouches(), TOUCH_DELAY_MS).unref();
  }

  /** Write the pending mtimes one at a time (recency only matters to the next process's scan). */
  private async flushTouches(): Promise<void> {
    const now = new Date();
    const batch = [...this.pendingTouches];
    this.pendingTouches.clear();
    for (const hex of batch) await utimes(join(this.chunkDir, hex), now, now).catch(() => undefined);
    this.touchTimer = undefined;
    if (this.pendingTouches.size > 0) this.touchTimer = setTimeout(() => void this.flushTouches(), TOUCH_DELAY_MS).unref();
  }

  /** Mark an indexed chunk most recently used. */
  private bump(hex: string): void {
    const size = this.index.get(hex);
    if (size !== undefined) this.remember(hex, size);
  }

  private remember(hex: string, size: number): void {
    this.forget(hex);
    this.index.set(hex, size);
    this.diskBytes += size;
  }

  private forget(hex: string): void {
    const size = this.index.get(hex);
    if (size === undefined) return;
    this.index.delete(hex);
    this.diskBytes -= size;
  }

  /** Unlink least recently used chunks until the disk budget holds (never `keep`, the chunk just written). */
  private async evict(keep?: string): Promise<void> {
    for (const hex of [...this.index.keys()]) {
      if (this.diskBytes <= this.maxBytes) return;
      if (hex === keep) continue;
      this.forget(hex);
      this.trusted.delete(hex);
      this.touched.delete(hex);
      this.counters.evictions++;
      await unlink(join(this.chunkDir, hex)).catch(() => undefined);
    }
  }

  /** Index the files already on disk, oldest mtime first. */
  private async scan(): Promise<void> {
    const found: { hex: string; size: number; mtime: number }[] = [];
    const names = (await readdir(this.chunkDir)).filter((hex) => /^[a-f0-9]{64}$/.test(hex));
    // statSync, SCAN_SLICE files at a time between turns of the event loop: ~8 µs a file, where an awaited
    // stat per file took ~0.1 ms (a cache of 8,000 chunks took 0.1-0.2 s to open, on the path of every mount)
    for (let i = 0; i < names.length; i += SCAN_SLICE) {
      if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      for (const hex of names.slice(i, i + SCAN_SLICE)) {
        let st: ReturnType<typeof statSync>;
        try {
          st = statSync(join(this.chunkDir, hex), { throwIfNoEntry: false });
        } catch {
          continue; // unreadable (EACCES, EIO): not indexed, as if absent
        }
        if (st?.isFile()) found.push({ hex, size: st.size, mtime: st.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const f of found) this.remember(f.hex, f.size);
  }
}

/** Read a small file of known size synchronously (see SYNC_READ_MAX_BYTES). */
function readSmallSync(path: string, size: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size);
    const n = readSync(fd, buf, 0, size, 0);
    return n === size ? buf : buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/**
 * Read a file of known size with one open, one read and one close through the callback API (FileHandle's
 * open and close cost several times more main-thread time); a shorter file is returned as it is (verification
 * on load rejects a changed one).
 */
function readSized(path: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'r', (err, fd) => {
      if (err) return reject(err);
      const buf = Buffer.allocUnsafe(size);
      fsRead(fd, buf, 0, size, 0, (readErr, n) => {
        fsClose(fd, () => (readErr ? reject(readErr) : resolve(n === size ? buf : buf.subarray(0, n))));
      });
    });
  });
}

async function defaultMaxBytes(dir: string, used: number): Promise<number> {
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  return Math.min(DEFAULT_CACHE_MAX_BYTES, Math.floor((free + used) / 2));
}

async function removeStaleTemps(tempDir: string): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(tempDir)) {
    const path = join(tempDir, name);
    const st = await stat(path).catch(() => undefined);
    if (st && now - st.mtimeMs > STALE_TEMP_MS) await rm(path, { force: true });
  }
}
