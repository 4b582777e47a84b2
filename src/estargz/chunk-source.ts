// What the TOC filesystem (fs/) reads file contents from: implemented by layer/lazy-layer.ts (chunks
// fetched from a registry, verified and cached) and by anything else that can serve a regular file's bytes.
// It lives here, beside the TOC nodes it names, so fs/ and layer/ both point down to it.

import type { TocFile } from './toc-node.js';

/**
 * A read's abort signal, or what makes it when the read first has to wait (on the disk or the network): a
 * FUSE request's signal costs ~5 us to make, and most cached reads are served from memory without waiting.
 */
export type SignalSource = AbortSignal | (() => AbortSignal);

/** Serves byte ranges of a layer's regular files. */
export interface ChunkSource {
  /** Up to `length` bytes of `file` (a regular file of the layer's TOC index) at `offset`; fewer only at the end of the file. */
  readFileRange(file: TocFile, offset: number, length: number, signal?: SignalSource): Promise<Buffer>;
}
