// A range of a blob requested before anyone asks for it, and a BlobSource that serves the reads inside it
// from those bytes. A mount knows its layer's prefetch region from the rpull record (estargz/prefetch-span.ts)
// before it has parsed the TOC again; requesting it at once overlaps the transfer with that parse and the
// mount. The lazy layer's own prefetch then asks for the same range and is served what has arrived, and the
// rest as it arrives. What lies outside the range, and everything after release(), goes to the inner source.
// A failed early request costs nothing but time: a read it cannot serve is sent to the inner source, from the
// first byte that had not arrived.

import { CtrError } from '../errors.js';
import type { BlobRange, BlobSource } from './blob-source.js';

/** The early request of one range, and the reads it serves until released. */
export class EarlyRange {
  private buf: Buffer | undefined;
  /** Bytes of the range received so far (from its start). */
  private filled = 0;
  private ended = false;
  /** Reads being served from the early bytes. */
  private readers = 0;
  /** A read has taken the whole range: release when the last reader is done. */
  private consumed = false;
  private readonly wakers = new Set<() => void>();
  private readonly stop = new AbortController();
  /** Settles when the early request has ended (it never rejects). */
  readonly settled: Promise<void>;

  /** `onRelease`: called once, when the bytes are dropped (release(), or a read delivered the whole range). */
  constructor(private readonly inner: BlobSource, readonly range: BlobRange, private onRelease?: () => void) {
    this.buf = Buffer.allocUnsafe(range.length);
    this.settled = this.fetch();
  }

  /** The BlobSource the layer reads through. */
  source(): BlobSource {
    const inner = this.inner;
    return {
      get size() {
        return inner.size;
      },
      readRanges: (ranges, options) => this.readRanges(ranges, options?.signal),
      ...(inner.streamRange ? { streamRange: (range: BlobRange, onBytes: (b: Buffer) => void, options?: { signal?: AbortSignal }) => this.streamRange(range, onBytes, options?.signal) } : {}),
    };
  }

  /** Stop the early request if it still runs and drop its bytes; every later read goes to the inner source. */
  release(): void {
    // a CtrError Aborted: the registry client (and a mirror list) pass it through as the caller's choice,
    // never as a failure of the host
    if (!this.ended) this.stop.abort(new CtrError('Aborted', 'early range released'));
    this.buf = undefined;
    this.wake();
    const done = this.onRelease;
    this.onRelease = undefined;
    done?.();
  }

  private async fetch(): Promise<void> {
    const { offset, length } = this.range;
    const take = (bytes: Buffer) => {
      if (!this.buf) return;
      const n = Math.min(bytes.length, length - this.filled);
      bytes.copy(this.buf, this.filled, 0, n);
      this.filled += n;
      this.wake();
    };
    try {
      if (this.inner.streamRange) await this.inner.streamRange({ offset, length }, take, { signal: this.stop.signal });
      else take((await this.inner.readRanges([{ offset, length }], { signal: this.stop.signal }))[0] ?? Buffer.alloc(0));
    } catch {
      // what did not arrive is read from the inner source by whoever needs it
    } finally {
      this.ended = true;
      this.wake();
    }
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  private inside(r: BlobRange): boolean {
    return this.buf !== undefined && r.offset >= this.range.offset && r.offset + r.length <= this.range.offset + this.range.length;
  }

  /** Wait until the range has bytes past `pos` (blob offset), or the early request ended or was released. */
  private async more(pos: number, signal: AbortSignal | undefined): Promise<void> {
    while (this.range.offset + this.filled <= pos && !this.ended && this.buf) {
      if (signal?.aborted) throw signal.reason;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          this.wakers.delete(done);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.wakers.delete(done);
          reject(signal!.reason);
        };
        this.wakers.add(done);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** Stream `range` from the early bytes as they arrive; what they do not cover comes from the inner source. */
  private async streamRange(range: BlobRange, onBytes: (b: Buffer) => void, signal: AbortSignal | undefined): Promise<void> {
    const end = range.offset + range.length;
    let pos = range.offset;
    if (this.inside(range)) {
      this.readers++;
      try {
        pos = await this.serveInside(range, pos, end, onBytes, signal);
      } finally {
        this.readers--;
        if (this.consumed && this.readers === 0) this.release();
      }
    }
    if (pos >= end) return;
    const rest = { offset: pos, length: end - pos };
    const opts = signal ? { signal } : {};
    if (this.inner.streamRange) await this.inner.streamRange(rest, onBytes, opts);
    else onBytes((await this.inner.readRanges([rest], opts))[0] ?? Buffer.alloc(0));
  }

  /** Deliver [pos, end) from the early bytes as they arrive; returns where it stopped (short when released or ended short). */
  private async serveInside(range: BlobRange, start: number, end: number, onBytes: (b: Buffer) => void, signal: AbortSignal | undefined): Promise<number> {
    let pos = start;
    while (pos < end) {
      await this.more(pos, signal);
      const buf = this.buf;
      const reached = Math.min(end, this.range.offset + this.filled);
      if (!buf || reached <= pos) break; // released, or the early request ended short of `pos`
      onBytes(buf.subarray(pos - this.range.offset, reached - this.range.offset));
      pos = reached;
    }
    // the prefetch has taken the whole range (it copies what it is given): once no other read is being
    // served from them, the bytes are needed no more
    if (range.offset === this.range.offset && pos === this.range.offset + this.range.length) this.consumed = true;
    return pos;
  }

  private async readRanges(ranges: readonly BlobRange[], signal: AbortSignal | undefined): Promise<Buffer[]> {
    if (!ranges.some((r) => this.inside(r))) return this.inner.readRanges(ranges, signal ? { signal } : {});
    return Promise.all(ranges.map(async (r) => {
      if (!this.inside(r)) return (await this.inner.readRanges([r], signal ? { signal } : {}))[0]!;
      const parts: Buffer[] = [];
      await this.streamRange(r, (b) => parts.push(b), signal);
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }));
  }
}
