// V8's collector, for a process that knows when it has just let go of a lot of memory. V8 collects when
// JavaScript allocates, and counts the memory behind ArrayBuffers only loosely: a process that streams
// megabyte buffers through zlib and the disk (a lazy layer's background fetch) and allocates little else
// keeps tens of MB of dead buffers between collections, and glibc keeps what it freed late. The collector
// is `gc` when node runs with --expose-gc; otherwise the flag is set for the time it takes to make a new
// context and take `gc` from it (V8 installs it in contexts made while the flag is set; jest's leak detector
// does the same), then given back its default (host/v8-flags.ts: node's code cache for built-ins).

import { runInNewContext } from 'node:vm';
import { withV8Flags } from './v8-flags.js';

/** Runs a collection: 'major' a full one (~20-30 ms for a 12 MB heap here), 'minor' the young generation only (~1 ms). */
export type Collector = (kind: 'major' | 'minor') => void;

/** V8's gc function: a full collection, or `{ type: 'minor' }` for the young generation. */
type V8Gc = (options?: { type: 'minor' | 'major' }) => void;

let collector: Collector | null | undefined;

/** The collector of this process, or undefined when this runtime does not offer one. */
export function garbageCollector(): Collector | undefined {
  if (collector === undefined) {
    const gc = findGc();
    collector = gc ? (kind) => (kind === 'minor' ? gc({ type: 'minor' }) : gc()) : null;
  }
  return collector ?? undefined;
}

function findGc(): V8Gc | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as V8Gc;
  try {
    const gc = withV8Flags('--expose-gc', '--no-expose-gc', () => runInNewContext('gc') as unknown);
    return typeof gc === 'function' ? (gc as V8Gc) : null;
  } catch {
    return null;
  }
}

/**
 * One full collection after the current turn of the event loop, if this runtime offers a collector: for a
 * process that has just started serving, whose start-up garbage V8 would otherwise keep until it next
 * allocates enough (an idle service never does), so that a pull arriving soon after does not find it there.
 */
export function collectSoon(): void {
  const gc = garbageCollector();
  if (gc) setImmediate(() => gc('major')).unref();
}
