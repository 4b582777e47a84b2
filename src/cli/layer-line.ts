// The line `rpull` and `image mount` print for each layer: lazy, or full and why.
import type { LazyLayerRecord } from '../image/lazy/lazy-record.js';
import { humanSize } from './human-size.js';

/** One output line for a layer decision. */
export function layerLine(l: LazyLayerRecord, i: number): string {
  const what = l.mode === 'lazy' ? 'lazy (eStargz, TOC verified)' : `full: ${l.reason ?? 'not eStargz'}`;
  return `layer ${i} ${l.digest} ${humanSize(l.size)}: ${what}`;
}
