// A RangeReader over a registry blob: each read is one Range request (the lazy mount's primitive).
import type { RangeReader, ReadOptions } from '../content/range-reader.js';
import type { Repository } from './repository.js';

/** Random access to one blob of a repository; size known up front. */
export class BlobRangeReader implements RangeReader {
  constructor(readonly repository: Repository, readonly digest: string, readonly size: number) {}

  /** Read `length` bytes at `offset` (clipped at the end of the blob). */
  async readAt(offset: number, length: number, options: ReadOptions = {}): Promise<Buffer> {
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return Buffer.alloc(0);
    return this.repository.blobRange(this.digest, offset, end - offset, options.signal);
  }
}

/** Open a RangeReader on a blob; its size comes from `size` when known, else from headBlob (or Content-Range). */
export async function openBlobRangeReader(repository: Repository, digest: string, opts: { size?: number; signal?: AbortSignal } = {}): Promise<BlobRangeReader> {
  const size = opts.size ?? (await repository.blobSize(digest, opts.signal));
  return new BlobRangeReader(repository, digest, size);
}
