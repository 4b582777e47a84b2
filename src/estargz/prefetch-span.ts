// Where a layer's prefetch region lies in its blob, from the TOC's entries alone (no index built): the members
// before `.prefetch.landmark`, i.e. [the first payload's offset, the landmark's offset). rpull records it so
// that a later mount can request those bytes before it has parsed the TOC again (layer/early-range.ts).
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md#prioritized-files-and-landmark-files

import type { BlobRange } from '../content/blob-source.js';
import { cleanEntryName } from '../oci/entry-name.js';
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, type TOCEntry } from './toc-types.js';

/** The blob bytes of a prefetch region. */
export type PrefetchSpan = BlobRange;

/** Which landmark an entry is, if any (the index builder and prefetchSpan read landmarks alike). */
export function landmarkOf(e: TOCEntry): 'prefetch' | 'no-prefetch' | undefined {
  if (!e.name.endsWith('landmark')) return undefined; // cheap: a TOC may have a million names
  const name = cleanEntryName(e.name);
  if (name === NO_PREFETCH_LANDMARK) return 'no-prefetch';
  return name === PREFETCH_LANDMARK ? 'prefetch' : undefined;
}

/** The prefetch region's bytes, or undefined without a landmark, with `.no.prefetch.landmark`, or when nothing precedes it. */
export function prefetchSpan(entries: readonly TOCEntry[]): PrefetchSpan | undefined {
  let landmark: number | undefined;
  for (const e of entries) {
    const kind = landmarkOf(e);
    if (kind === 'no-prefetch') return undefined;
    if (kind === 'prefetch' && e.offset !== undefined) landmark = e.offset;
  }
  if (landmark === undefined) return undefined;
  let first = landmark;
  for (const e of entries) if (e.offset !== undefined && e.offset < first) first = e.offset;
  return first < landmark ? { offset: first, length: landmark - first } : undefined;
}
