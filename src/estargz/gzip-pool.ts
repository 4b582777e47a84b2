// A small compression pool that turns payloads into independent gzip members (or zstd frames) in
// parallel. Callers keep the returned promises in order to emit members in order. gzip runs by default on
// libuv's threadpool (async node:zlib: no extra V8 isolates, ~90 MB less peak RSS than two worker threads
// at the same speed, see docs/benchmarks/convert.md); worker_threads are used for zstd (zstd-napi is
// synchronous) or when asked for.
import { Worker } from 'node:worker_threads';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { CtrError } from '../errors.js';
import { workerEntry } from '../host/worker-entry.js';

const gzipAsync = promisify(gzip);

/** Options of a compression pool. */
export interface GzipPoolOptions {
  /** Worker threads; 0 compresses on libuv's threadpool via async zlib (gzip only). Default 0 for gzip, 2 for zstd. */
  workers?: number;
  /** 'gzip' (default) or 'zstd'. */
  codec?: 'gzip' | 'zstd';
  /** Compression level. Default 9 for gzip, 3 for zstd. */
  level?: number;
}

interface Pending {
  resolve: (b: Buffer) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  busy: number;
}

/** Compresses buffers into self-contained members on a fixed set of workers. */
export class GzipPool {
  readonly codec: 'gzip' | 'zstd';
  readonly level: number;
  private readonly slots: Slot[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure: Error | undefined;

  constructor(opts: GzipPoolOptions = {}) {
    this.codec = opts.codec ?? 'gzip';
    this.level = opts.level ?? (this.codec === 'gzip' ? 9 : 3);
    const n = opts.workers ?? (this.codec === 'gzip' ? 0 : 2);
    if (n === 0 && this.codec !== 'gzip') throw new CtrError('InvalidArgument', 'zstd compression needs at least one worker');
    for (let i = 0; i < n; i++) this.slots.push(this.spawn());
  }

  /** Number of worker threads (0 = async zlib on libuv's threadpool). */
  get size(): number {
    return this.slots.length;
  }

  /** How many members callers should keep in compression at once: the workers, or 2 on the threadpool. */
  get parallelism(): number {
    return this.slots.length || 2;
  }

  /**
   * Compress `data` into one gzip member (or zstd frame). With `transfer`, a buffer that owns its whole
   * ArrayBuffer is moved to the worker instead of copied (it is detached afterwards: do not touch it).
   */
  compress(data: Uint8Array, transfer = false): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.slots.length === 0) return gzipAsync(data, { level: this.level });
    const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (b) => (slot.busy--, resolve(b)),
        reject: (e) => (slot.busy--, reject(e)),
      });
      const movable = transfer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
      slot.worker.postMessage({ id, codec: this.codec, level: this.level, data }, movable ? [data.buffer as ArrayBuffer] : []);
    });
  }

  /** Stop the workers; pending jobs fail. */
  async close(): Promise<void> {
    const ws = this.slots.splice(0).map((s) => s.worker);
    this.failAll(new CtrError('Aborted', 'compression pool closed'));
    await Promise.all(ws.map((w) => w.terminate()));
  }

  private spawn(): Slot {
    const entry = workerEntry('gzip-pool', import.meta.url);
    // Under tsx (tests) Node 20 does not apply the inherited loader to a worker's .ts entry: register it
    // in a tiny bootstrap first.
    const worker = entry.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true })
      : new Worker(entry);
    worker.unref();
    worker.on('message', (m: { id: number; data?: Uint8Array; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.data) p.resolve(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      else p.reject(new CtrError('Internal', `compression failed: ${m.error ?? 'unknown error'}`));
    });
    worker.on('error', (e) => this.failAll(new CtrError('Internal', `compression worker crashed: ${e.message}`, { cause: e })));
    return { worker, busy: 0 };
  }

  private failAll(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
