// V8's collector, for a process that knows when it has just let go of a lot of memory. V8 collects when
// JavaScript allocates, and counts the memory behind ArrayBuffers only loosely: a process that streams
// megabyte buffers through zlib and the disk (a lazy layer's background fetch) and allocates little else
// keeps tens of MB of dead buffers between collections, and glibc keeps what it freed late. The collector
// is `gc` when node runs with --expose-gc; otherwise the flag is set now and `gc` is taken from a new
// context (V8 installs it in contexts made after the flag is set; jest's leak detector does the same).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collector: (() => void) | null | undefined;

/** A function that runs a full collection, or undefined when this runtime does not offer one. */
export function garbageCollector(): (() => void) | undefined {
  if (collector === undefined) collector = findCollector();
  return collector ?? undefined;
}

function findCollector(): (() => void) | null {
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') return exposed as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}
