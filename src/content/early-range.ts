// A range of a blob requested before anyone asks for it, and a BlobSource that serves the reads inside it
// from those bytes. A mount knows its layer's prefetch region from the rpull record (estargz/prefetch-span.ts)
// before it has parsed the TOC again, and the service guesses it from the TOC's text before parsing it;
// requesting it at once overlaps the transfer with that parse and the mount. The lazy layer's own prefetch
// then asks for the same range and is served what has arrived, and the rest as it arrives. What lies outside
// the range, and everything after release(), goes to the inner source. A failed early request costs nothing
// but time: a read it cannot serve is sent to the inner source, from the first byte that had not arrived.
//
// At most `window` bytes are held, whatever the range's size: the bytes behind every reader being served are
// let go, and once `window` bytes are held the early request waits (the source holds back its next bytes,
// BlobSource.streamRange) until a reader has taken some. A read of bytes already let go goes to the inner
// source.

import { CtrError } from '../errors.js';
import type { BlobRange, BlobSource, OnBytes } from './blob-source.js';

/** Bytes an early range holds at most (its request waits beyond): a few hundred ms of a 100 Mbit/s link. */
export const EARLY_WINDOW_BYTES = 8 << 20;

/** A read being served from the early bytes: where it has got to (blob offset). */
interface Reader {
  pos: number;
}

/** The early request of one range, and the reads it serves until released. */
export class EarlyRange {
  /** The bytes held, in order and contiguous, the first at blob offset `base`. */
  private pieces: Buffer[] = [];
  /** Blob offset of the first byte held: the bytes before it were let go (or never came). */
  private base: number;
  /** Blob offset after the last byte received. */
  private reached: number;
  private ended = false;
  private released = false;
  /** Reads being served from the early bytes. */
  private readonly readers = new Set<Reader>();
  /** A read has taken the whole range: release when the last reader is done. */
  private consumed = false;
  private readonly wakers = new Set<() => void>();
  private readonly stop = new AbortController();
  /** Settles when the early request has ended (it never rejects). */
  readonly settled: Promise<void>;

  /** `onRelease`: called once, when the bytes are dropped (release(), or a read delivered the whole range). */
  constructor(private readonly inner: BlobSource, readonly range: BlobRange, private onRelease?: () => void, readonly window = EARLY_WINDOW_BYTES) {
    this.base = range.offset;
    this.reached = range.offset;
    this.settled = this.fetch();
  }

  /** Bytes held now (at most `window`, but for the piece that crossed it). */
  held(): number {
    return this.reached - this.base;
  }

  /** The BlobSource the layer reads through. */
  source(): BlobSource {
    const inner = this.inner;
    return {
      get size() {
        return inner.size;
      },
      readRanges: (ranges, options) => this.readRanges(ranges, options?.signal),
      ...(inner.streamRange ? { streamRange: (range: BlobRange, onBytes: OnBytes, options?: { signal?: AbortSignal }) => this.streamRange(range, onBytes, options?.signal) } : {}),
    };
  }

  /** Stop the early request if it still runs and drop its bytes; every later read goes to the inner source. */
  release(): void {
    // a CtrError Aborted: the registry client (and a mirror list) pass it through as the caller's choice,
    // never as a failure of the host
    if (!this.ended) this.stop.abort(new CtrError('Aborted', 'early range released'));
    this.released = true;
    this.pieces = [];
    this.base = this.reached;
    this.wake();
    const done = this.onRelease;
    this.onRelease = undefined;
    done?.();
  }

  private async fetch(): Promise<void> {
    const { offset, length } = this.range;
    const end = offset + length;
    const take = (bytes: Buffer): Promise<void> | undefined => {
      const n = Math.min(bytes.length, end - this.reached);
      if (this.released || n <= 0) return undefined;
      this.pieces.push(n === bytes.length ? bytes : bytes.subarray(0, n));
      this.reached += n;
      this.wake();
      if (this.held() <= this.window) return undefined;
      this.letGo();
      return this.held() > this.window ? this.room() : undefined;
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

  /** Wait until the bytes held fit the window again (readers took some), or the range was released. */
  private async room(): Promise<void> {
    while (!this.released && this.held() > this.window) await this.change(undefined);
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Wait for the next change: bytes arrived or let go, the request ended, the range released. */
  private change(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
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

  /** Whether the early request serves (part of) `r`: it lies in the range and ends after the bytes let go. */
  private serves(r: BlobRange): boolean {
    const end = r.offset + r.length;
    return !this.released && r.offset >= this.range.offset && end <= this.range.offset + this.range.length && end > this.base;
  }

  /**
   * Stream `range` from the early bytes as they arrive: what was let go already, and what they do not cover
   * (outside the range, not delivered by a request that ended short, anything after release), comes from the
   * inner source.
   */
  private async streamRange(range: BlobRange, onBytes: OnBytes, signal: AbortSignal | undefined): Promise<void> {
    const end = range.offset + range.length;
    let pos = range.offset;
    while (pos < end && this.serves({ offset: pos, length: end - pos })) {
      if (pos < this.base) { // let go already: from the blob up to what is held, which stays held meanwhile
        const hold = { pos: this.base };
        this.readers.add(hold);
        try {
          pos = await this.fromInner({ offset: pos, length: hold.pos - pos }, onBytes, signal);
        } finally {
          this.readers.delete(hold);
        }
        continue;
      }
      const reader = { pos };
      this.readers.add(reader);
      try {
        await this.serveInside(reader, end, onBytes, signal);
      } finally {
        this.readers.delete(reader);
        this.letGo();
      }
      const served = reader.pos > pos;
      // the prefetch has taken the whole range (it copies what it is given): once no other read is being
      // served from them, the bytes are needed no more
      if (range.offset === this.range.offset && reader.pos === this.range.offset + this.range.length) this.consumed = true;
      if (this.consumed && this.readers.size === 0) this.release();
      pos = reader.pos;
      if (!served) break; // released, or the early request ended short of `pos`
    }
    if (pos < end) await this.fromInner({ offset: pos, length: end - pos }, onBytes, signal);
  }

  /** Stream `r` from the inner source; returns where it ends. */
  private async fromInner(r: BlobRange, onBytes: OnBytes, signal: AbortSignal | undefined): Promise<number> {
    const opts = signal ? { signal } : {};
    if (this.inner.streamRange) await this.inner.streamRange(r, onBytes, opts);
    else await onBytes((await this.inner.readRanges([r], opts))[0] ?? Buffer.alloc(0));
    return r.offset + r.length;
  }

  /** Deliver [reader.pos, end) from the early bytes as they arrive; stops short when they were let go, released or ended short. */
  private async serveInside(reader: Reader, end: number, onBytes: OnBytes, signal: AbortSignal | undefined): Promise<void> {
    this.letGo(); // a reader ahead of every byte held frees a full window (else the request would wait for ever)
    while (reader.pos < end) {
      while (this.reached <= reader.pos && !this.ended && !this.released) await this.change(signal);
      const upTo = Math.min(end, this.reached);
      if (this.released || reader.pos < this.base || upTo <= reader.pos) return;
      // the views are taken before anything is awaited: the pieces behind this reader stay until it moves on
      for (const view of this.views(reader.pos, upTo)) await onBytes(view);
      reader.pos = upTo;
      this.letGo();
    }
  }

  /** The held bytes of [from, to) (inside what is held), as views of the pieces. */
  private views(from: number, to: number): Buffer[] {
    const out: Buffer[] = [];
    let at = this.base;
    for (const p of this.pieces) {
      const pEnd = at + p.length;
      if (pEnd > from && at < to) out.push(p.subarray(Math.max(0, from - at), Math.min(p.length, to - at)));
      if (pEnd >= to) break;
      at = pEnd;
    }
    return out;
  }

  /**
   * With the window full, let go of the bytes behind every reader being served. Not before: a read ahead of
   * the prefetch (a file opened early) would otherwise drop what the prefetch is about to take. Nothing
   * without readers: the request waits for one.
   */
  private letGo(): void {
    if (this.readers.size === 0 || this.released || this.held() < this.window) return;
    let floor = this.reached;
    for (const r of this.readers) floor = Math.min(floor, r.pos);
    if (floor <= this.base) return;
    while (this.pieces.length > 0 && this.base < floor) {
      const first = this.pieces[0]!;
      const drop = Math.min(first.length, floor - this.base);
      if (drop === first.length) this.pieces.shift();
      else this.pieces[0] = first.subarray(drop);
      this.base += drop;
    }
    this.wake();
  }

  private async readRanges(ranges: readonly BlobRange[], signal: AbortSignal | undefined): Promise<Buffer[]> {
    if (!ranges.some((r) => this.serves(r))) return this.inner.readRanges(ranges, signal ? { signal } : {});
    return Promise.all(ranges.map(async (r) => {
      if (!this.serves(r)) return (await this.inner.readRanges([r], signal ? { signal } : {}))[0]!;
      const parts: Buffer[] = [];
      await this.streamRange(r, (b) => void parts.push(b), signal);
      return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    }));
  }
}
