// When the lazy layers of a process ask for a garbage collection. Decoding a member makes two short-lived
// buffers (its compressed bytes, its decoded bytes) that V8 frees only at its next collection, and V8 waits
// for JavaScript to allocate before it collects: a background fetch of a 429 MB image held 25-40 MB of dead
// buffers in the serving process, and glibc kept much of it once freed. Asking for a collection after every
// COLLECT_AFTER_BYTES of such buffers bounds the dead ones by that much, for one full collection of a small
// heap (~5-10 ms) per 32 MB decoded (docs/DECISIONS.md, "Memory"). Pure: the collection is the caller's.

/** Bytes of member buffers (compressed + decoded) let go between two collections. */
export const COLLECT_AFTER_BYTES = 8 << 20;

/** Counts the member buffers let go and runs `collect` once COLLECT_AFTER_BYTES of them have been. */
export class GarbagePacer {
  private pending = 0;
  private scheduled = false;
  /** Collections asked for so far. */
  collections = 0;

  /**
   * `collect` runs a collection (none: the pacer only counts); `schedule` runs it later, off the caller's
   * stack (default setImmediate: after the replies being built are written).
   */
  constructor(
    private readonly collect: (() => void) | undefined,
    private readonly everyBytes: number = COLLECT_AFTER_BYTES,
    private readonly schedule: (run: () => void) => void = (run) => void setImmediate(run),
  ) {}

  /** `bytes` of buffers made for one member have been let go (or soon will be). */
  letGo(bytes: number): void {
    this.pending += bytes;
    if (this.pending < this.everyBytes || this.scheduled || !this.collect) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      this.pending = 0;
      this.collections++;
      this.collect?.();
    });
  }
}
