// Where a layer's prefetch region lies in its blob, from the TOC's entries alone (no index built): the members
// before `.prefetch.landmark`, i.e. [the first payload's offset, the landmark's offset). rpull records it so
// that a later mount can request those bytes before it has parsed the TOC again (layer/early-range.ts).
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md#prioritized-files-and-landmark-files

import { cleanEntryName } from '../oci/entry-name.js';
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, type TOCEntry } from './toc-types.js';

/** A byte range of a blob. */
export interface PrefetchSpan {
  offset: number;
  length: number;
}

/** The prefetch region's bytes, or undefined without a landmark, with `.no.prefetch.landmark`, or when nothing precedes it. */
export function prefetchSpan(entries: readonly TOCEntry[]): PrefetchSpan | undefined {
  let landmark: number | undefined;
  for (const e of entries) {
    if (!e.name.endsWith('landmark')) continue; // cheap: most names do not
    const name = cleanEntryName(e.name);
    if (name === NO_PREFETCH_LANDMARK) return undefined;
    if (name === PREFETCH_LANDMARK && e.offset !== undefined) landmark = e.offset;
  }
  if (landmark === undefined) return undefined;
  let first = landmark;
  for (const e of entries) if (e.offset !== undefined && e.offset < first) first = e.offset;
  return first < landmark ? { offset: first, length: landmark - first } : undefined;
}
