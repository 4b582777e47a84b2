// What the TOC filesystem reads file contents from: implemented by layer/lazy-layer.ts (chunks fetched from
// a registry, verified and cached) and by anything else that can serve a regular file's bytes.

import type { TocFile } from '../estargz/toc-node.js';

/** Serves byte ranges of a layer's regular files. */
export interface ChunkSource {
  /** Up to `length` bytes of `file` (a regular file of the layer's TOC index) at `offset`; fewer only at the end of the file. */
  readFileRange(file: TocFile, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
}
