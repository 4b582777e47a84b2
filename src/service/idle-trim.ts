// When a process that served a burst of work (containers starting, a background fetch) has been quiet for a
// while, the memory it kept for that burst (the chunk cache's memory LRU, V8's young generation, freed
// buffers a garbage collection has not run to free) is given back. V8 collects only when JavaScript
// allocates, so an idle process keeps the garbage of its last burst; the fuse manager is idle most of its
// life. This decides when: once, after `idleMs` without any change of an activity signature.

/**
 * Quiet time after which the fuse manager trims: long past the pauses of a container starting (a few hundred
 * ms), as long as the reference waits before its background fetch. What a trim costs: one collection
 * (10-50 ms of an idle thread) and reads of the dropped chunks from the disk cache (the page cache, as a rule).
 */
export const IDLE_TRIM_MS = 5_000;

/** Decides when to trim from successive observations of an activity signature. */
export class IdleTrim {
  private last: string | undefined;
  private changedAt = 0;
  private trimmed = false;

  constructor(private readonly idleMs: number = IDLE_TRIM_MS) {}

  /** Note the signature seen at `now` (ms); true when the process has been quiet for idleMs and has not trimmed since. */
  observe(signature: string, now: number): boolean {
    if (signature !== this.last) {
      this.last = signature;
      this.changedAt = now;
      this.trimmed = false;
      return false;
    }
    if (this.trimmed || now - this.changedAt < this.idleMs) return false;
    this.trimmed = true;
    return true;
  }
}
