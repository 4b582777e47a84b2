// What a lazy layer reads its compressed bytes from: several ranges of one blob in one call, so a remote
// implementation can send them as one multi-range request (remote/ provides it for registry blobs).

import type { RangeReader } from './range-reader.js';

/** A range of a blob. */
export interface BlobRange {
  offset: number;
  length: number;
}

/**
 * Takes the bytes of a streamed range as they arrive; they are the taker's to keep (a source never reuses the
 * buffer). A promise it returns holds back the next bytes until it settles (back-pressure: the source stops
 * reading from the network meanwhile).
 */
export type OnBytes = (bytes: Buffer) => void | Promise<void>;

/** Random access to a blob, several ranges at a time. */
export interface BlobSource {
  /** Total size of the blob in bytes. */
  readonly size: number;
  /** The bytes of each range, in the order asked; each exactly `length` bytes (fewer only past the end). */
  readRanges(ranges: readonly BlobRange[], options?: { signal?: AbortSignal }): Promise<Buffer[]>;
  /**
   * Optional: read one range, handing its bytes to `onBytes` as they arrive (in order, each byte once), so
   * that what is needed first is usable before the whole range has come (a prefetch of megabytes); waits for
   * the promise `onBytes` returns, if any, before it hands over more.
   */
  streamRange?(range: BlobRange, onBytes: OnBytes, options?: { signal?: AbortSignal }): Promise<void>;
}

/** A BlobSource reading each range from a RangeReader (local files, tests). */
export function blobSourceFromRangeReader(reader: RangeReader): BlobSource {
  return {
    get size() {
      return reader.size;
    },
    readRanges: (ranges, options) => Promise.all(ranges.map((r) => reader.readAt(r.offset, r.length, options))),
  };
}
