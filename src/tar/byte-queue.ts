// A pull-based byte queue over an async stream of chunks: exact reads for headers, zero-copy bounded
// pieces for payloads, and the absolute position of the next unread byte.

/** Reads exact byte counts from chunked input without buffering more than one incoming chunk ahead. */
export class ByteQueue {
  private readonly chunks: Buffer[] = [];
  private head = 0; // offset into chunks[0]
  private buffered = 0;
  private ended = false;
  private readonly it: AsyncIterator<Uint8Array>;
  /** Absolute offset of the next byte to be returned. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.it = Symbol.asyncIterator in source ? source[Symbol.asyncIterator]() : toAsync(source[Symbol.iterator]());
  }

  /** Buffer until `n` bytes are available; false when the input ends first. */
  async fill(n: number): Promise<boolean> {
    while (this.buffered < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) this.ended = true;
      else if (r.value.length > 0) {
        this.chunks.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.length));
        this.buffered += r.value.length;
      }
    }
    return this.buffered >= n;
  }

  /** Bytes currently buffered. */
  get available(): number {
    return this.buffered;
  }

  /** Take up to `n` buffered bytes as one Buffer (zero-copy when they lie in one chunk). */
  take(n: number): Buffer {
    const want = Math.min(n, this.buffered);
    const first = this.chunks[0];
    if (first && first.length - this.head >= want) {
      const out = first.subarray(this.head, this.head + want);
      this.consume(want);
      return out;
    }
    const out = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(want - got, c.length - this.head);
      c.copy(out, got, this.head, this.head + k);
      got += k;
      this.consume(k);
    }
    return out;
  }

  /** Take at most `max` bytes from the first buffered chunk (no copy); fills one chunk if empty. */
  async takeSome(max: number): Promise<Buffer | undefined> {
    if (this.buffered === 0 && !(await this.fill(1))) return undefined;
    const c = this.chunks[0] as Buffer;
    const k = Math.min(max, c.length - this.head);
    const out = c.subarray(this.head, this.head + k);
    this.consume(k);
    return out;
  }

  /** Discard `n` bytes; returns how many were actually skipped before the input ended. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      const piece = await this.takeSome(left);
      if (!piece) break;
      left -= piece.length;
    }
    return n - left;
  }

  /** Stop reading the source (lets generators clean up). */
  async close(): Promise<void> {
    this.chunks.length = 0;
    this.buffered = 0;
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }

  private consume(k: number): void {
    this.head += k;
    this.buffered -= k;
    this.position += k;
    while (this.chunks.length > 0 && this.head >= (this.chunks[0] as Buffer).length) {
      this.head -= (this.chunks[0] as Buffer).length;
      this.chunks.shift();
    }
  }
}

function toAsync<T>(it: Iterator<T>): AsyncIterator<T> {
  return { next: async () => it.next(), return: async () => it.return?.() ?? { done: true, value: undefined } };
}
