// The one read primitive that estargz/ and layer/ depend on: random access to a blob of known size.
// Implemented by a local file (io/file-range-reader.ts), an in-memory buffer (below) and a registry blob
// (remote/blob-range-reader.ts).

/** Options accepted by every read. */
export interface ReadOptions {
  /** Cancels the read; the promise rejects with an AbortError. */
  signal?: AbortSignal;
}

/** Random-access reads of a blob whose size is known up front. */
export interface RangeReader {
  /** Total size of the blob in bytes. */
  readonly size: number;
  /** Read exactly `length` bytes at `offset` (fewer only when the range passes the end of the blob). */
  readAt(offset: number, length: number, options?: ReadOptions): Promise<Buffer>;
  /** Release resources (file handles, sockets). Optional. */
  close?(): Promise<void>;
}

/** A RangeReader over bytes already in memory (tests, small blobs). */
export class BufferRangeReader implements RangeReader {
  constructor(private readonly buf: Buffer) {}
  get size(): number {
    return this.buf.length;
  }
  async readAt(offset: number, length: number): Promise<Buffer> {
    const start = Math.max(0, Math.min(offset, this.buf.length));
    const end = Math.max(start, Math.min(offset + length, this.buf.length));
    return this.buf.subarray(start, end);
  }
}
