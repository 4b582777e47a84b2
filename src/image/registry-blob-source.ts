// A lazy layer's BlobSource over a registry blob: each batch of ranges is one multi-range request
// (Repository.blobRanges falls back to a covering range or a full body when the registry wants that).

import type { BlobSource } from '../layer/blob-source.js';
import type { Repository } from '../remote/repository.js';

/** Read ranges of blob `digest` (of `size` bytes) from `repository`. */
export function registryBlobSource(repository: Repository, digest: string, size: number): BlobSource {
  return {
    size,
    readRanges: (ranges, options) => repository.blobRanges(digest, ranges, options?.signal),
  };
}
