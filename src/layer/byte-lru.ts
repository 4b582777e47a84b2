// A least-recently-used map bounded by the total byte size of its values (the in-memory chunk cache).
import { compactView } from '../content/compact-view.js';

/** An LRU of Buffers bounded by total bytes; values larger than the bound are not kept. */
export class ByteLru<K> {
  private readonly map = new Map<K, Buffer>();
  private total = 0;

  /** @param maxBytes upper bound on the sum of kept values' lengths. */
  constructor(private readonly maxBytes: number) {}

  /** The value for `key`, marking it most recently used. */
  get(key: K): Buffer | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /** True when `key` is kept (does not change recency). */
  has(key: K): boolean {
    return this.map.has(key);
  }

  /**
   * Insert or refresh `key`, evicting least recently used values beyond the bound. A value that is a small
   * view of a much larger ArrayBuffer (a chunk cut from a zlib output block) is stored as a copy, so that the
   * bound holds for the memory actually retained, not just for the lengths counted.
   */
  set(key: K, value: Buffer): void {
    this.delete(key);
    if (value.length > this.maxBytes) return;
    value = compactView(value);
    this.map.set(key, value);
    this.total += value.length;
    for (const [k, v] of this.map) {
      if (this.total <= this.maxBytes) break;
      this.map.delete(k);
      this.total -= v.length;
    }
  }

  /** Drop `key` if present. */
  delete(key: K): void {
    const v = this.map.get(key);
    if (v === undefined) return;
    this.map.delete(key);
    this.total -= v.length;
  }

  /** Drop every value; returns the bytes they held. */
  clear(): number {
    const dropped = this.total;
    this.map.clear();
    this.total = 0;
    return dropped;
  }

  /** Sum of the kept values' lengths. */
  get bytes(): number {
    return this.total;
  }
}
