// Where a layer's prefetch region lies in its blob, from the TOC's entries alone (no index built): the members
// before `.prefetch.landmark`, i.e. [the first payload's offset, the landmark's offset). rpull records it so
// that a later mount can request those bytes before it has parsed the TOC again (layer/early-range.ts). The
// service guesses it from the TOC's JSON text before parsing it (prefetchSpanGuess), to request it sooner.
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

/** Bytes the guessed span may start before the parsed one (its first member's offset) and still be used for it. */
export const GUESS_SLACK = 64 << 10;

/**
 * The prefetch region guessed from the TOC's JSON text before it is parsed (tens of ms for a root
 * filesystem's TOC): [0, the offset of the entry named exactly `.prefetch.landmark`), or undefined when the
 * text names `.no.prefetch.landmark`, has no such entry or its object does not read back. A guess, for a
 * request made early: whoever uses it checks it against prefetchSpan of the parsed entries (spanCovers).
 */
export function prefetchSpanGuess(json: Buffer): PrefetchSpan | undefined {
  if (json.includes(`"${NO_PREFETCH_LANDMARK}"`)) return undefined;
  const at = json.indexOf(`"${PREFETCH_LANDMARK}"`);
  if (at < 0) return undefined;
  // the entry's object: no nested object precedes or follows a landmark's name (it has no xattrs)
  const open = json.lastIndexOf('{', at);
  const close = json.indexOf('}', at);
  if (open < 0 || close < 0) return undefined;
  let entry: unknown;
  try {
    entry = JSON.parse(json.subarray(open, close + 1).toString('utf8'));
  } catch {
    return undefined;
  }
  const { name, offset } = entry as { name?: unknown; offset?: unknown };
  if (name !== PREFETCH_LANDMARK || typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset <= 0) return undefined;
  return { offset: 0, length: offset };
}

/** Whether `guess` holds all of `span` and starts at most GUESS_SLACK bytes before it (a request for it serves the span). */
export function spanCovers(guess: PrefetchSpan, span: PrefetchSpan): boolean {
  return guess.offset <= span.offset && span.offset - guess.offset <= GUESS_SLACK && guess.offset + guess.length >= span.offset + span.length
    && guess.offset + guess.length - (span.offset + span.length) <= GUESS_SLACK;
}
