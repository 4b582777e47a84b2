// What the TOC filesystem (fs/) reads file contents from: implemented by layer/lazy-layer.ts (chunks
// fetched from a registry, verified and cached) and by anything else that can serve a regular file's bytes.
// It lives here, beside the TOC nodes it names, so fs/ and layer/ both point down to it.

import type { TocFile } from './toc-node.js';

/** Serves byte ranges of a layer's regular files. */
export interface ChunkSource {
  /** Up to `length` bytes of `file` (a regular file of the layer's TOC index) at `offset`; fewer only at the end of the file. */
  readFileRange(file: TocFile, offset: number, length: number, signal?: AbortSignal): Promise<Buffer>;
}
