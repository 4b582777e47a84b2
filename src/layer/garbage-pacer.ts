// When the lazy layers of a process ask for a garbage collection. Decoding a member makes two short-lived
// buffers (its compressed bytes, its decoded bytes; those that go to the memory LRU die when it evicts
// others, as many bytes as it took in) that V8 frees only at its next collection, and V8 waits for
// JavaScript to allocate before it collects: a background fetch of a 429 MB image held 25-40 MB of dead
// buffers in the serving process, and glibc kept much of it once freed. After every COLLECT_AFTER_BYTES of
// such buffers the pacer asks for a collection: a full one when the last full one is far enough behind that
// full collections take at most MAX_COLLECT_SHARE of the time (one costs ~20-30 ms for the fuse manager's
// heap on this machine, far more with a million-entry TOC), else one of the young generation (~1 ms), which
// frees the buffers whose objects have not yet been promoted (docs/DECISIONS.md, "Memory"). Pure: the
// collections and the clock are the caller's.
import type { Collector } from '../host/garbage-collector.js';

/** Bytes of member buffers (compressed + decoded) let go between two collections. */
export const COLLECT_AFTER_BYTES = 8 << 20;
/** Largest share of the time spent in full collections: after one of d ms, the next waits d / share ms. */
export const MAX_COLLECT_SHARE = 0.25;

/** Options of a GarbagePacer (tests set them; a process uses the defaults). */
export interface GarbagePacerOptions {
  everyBytes?: number;
  /** Runs `run` later, off the caller's stack. Default setImmediate: after the replies being built are written. */
  schedule?: (run: () => void) => void;
  /** Milliseconds. Default performance.now. */
  now?: () => number;
}

/** Counts the member buffers let go and runs a collection once COLLECT_AFTER_BYTES of them have been. */
export class GarbagePacer {
  private pending = 0;
  private scheduled = false;
  /** No full collection before this time (ms): the last one's cost spread at MAX_COLLECT_SHARE. */
  private notBefore = Number.NEGATIVE_INFINITY;
  private readonly everyBytes: number;
  private readonly schedule: (run: () => void) => void;
  private readonly now: () => number;
  /** Collections run so far, of each kind. */
  readonly collections = { major: 0, minor: 0 };

  /** `collect` runs a collection of the kind asked (none: the pacer only counts). */
  constructor(private readonly collect: Collector | undefined, options: GarbagePacerOptions = {}) {
    this.everyBytes = options.everyBytes ?? COLLECT_AFTER_BYTES;
    this.schedule = options.schedule ?? ((run) => void setImmediate(run));
    this.now = options.now ?? (() => performance.now());
  }

  /** `bytes` of buffers made for one member have been let go (or soon will be). */
  letGo(bytes: number): void {
    this.pending += bytes;
    const collect = this.collect;
    if (this.pending < this.everyBytes || this.scheduled || !collect) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.pending = 0;
      const start = this.now();
      if (start < this.notBefore) {
        this.collections.minor++;
        collect('minor');
        return;
      }
      this.collections.major++;
      collect('major');
      const end = this.now();
      this.notBefore = end + (end - start) / MAX_COLLECT_SHARE;
    });
  }
}
