// Layers checked and not yet mounted: the TOC a check opened, and, in the resident service, the lazy layer
// it started (its prefetch runs from the moment the TOC is verified, not from the mount's; it is still being
// started, its index built, when the check has answered). containerd prepares a layer (the check) and the
// service mounts it right away; parsing a TOC again costs as much as the first time (tens of ms for a root
// filesystem's). Bounded by the entries held (a TOC costs memory in proportion to them); what is not kept,
// or not taken in time, is opened again from the saved tail, and a lazy layer not taken is closed.
import type { EStargzReader } from '../estargz/reader.js';
import type { LazyLayer } from '../layer/lazy-layer.js';

/** Entries of all the kept TOCs together, at most: 1 Mi (a few hundred MB of parsed TOC at worst). */
const MAX_KEPT_ENTRIES = 1 << 20;

/** How long a checked layer is kept for its mount. */
const KEEP_MS = 60_000;

/** A checked layer: its opened TOC, and the lazy layer started for it (if any). */
export interface CheckedLayer {
  reader: EStargzReader;
  /** Rejects when the layer could not start (its index refused the TOC's tree). */
  lazy?: Promise<LazyLayer>;
}

/** Close a lazy layer that was started for a check, once it has started (one that failed to start holds nothing). */
export async function closeStarted(lazy: Promise<LazyLayer> | undefined): Promise<void> {
  const l = await lazy?.catch(() => undefined);
  await l?.close();
}

interface Kept extends CheckedLayer {
  timer: NodeJS.Timeout;
}

/** Checked layers by layer digest, waiting for their mount. */
export class CheckedLayers {
  private readonly kept = new Map<string, Kept>();
  private entries = 0;

  /** Keep `checked` for the layer `digest` (replacing one kept before); false (nothing kept) when over the bound. */
  put(digest: string, checked: CheckedLayer): boolean {
    this.drop(digest, true);
    if (!this.fits(checked.reader.summary.entries)) return false;
    const timer = setTimeout(() => this.drop(digest, true), KEEP_MS);
    timer.unref();
    this.kept.set(digest, { ...checked, timer });
    this.entries += checked.reader.summary.entries;
    return true;
  }

  /** How many layers are kept. */
  size(): number {
    return this.kept.size;
  }

  /** Whether a TOC of `entries` entries could be kept now (within the bound). */
  fits(entries: number): boolean {
    return this.entries + entries <= MAX_KEPT_ENTRIES;
  }

  /** The layer kept for `digest` whose TOC digest is `tocDigest` (any, when undefined), no longer kept. */
  take(digest: string, tocDigest: string | undefined): CheckedLayer | undefined {
    const k = this.kept.get(digest);
    if (!k) return undefined;
    this.drop(digest, false);
    if (tocDigest === undefined || k.reader.tocDigest === tocDigest) return { reader: k.reader, ...(k.lazy ? { lazy: k.lazy } : {}) };
    void closeStarted(k.lazy);
    return undefined;
  }

  /** Forget everything; resolves once every kept lazy layer has started (or failed to) and been closed. */
  async clear(): Promise<void> {
    const started = [...this.kept.values()].map((k) => k.lazy);
    for (const digest of [...this.kept.keys()]) this.drop(digest, false);
    await Promise.all(started.map((l) => closeStarted(l)));
  }

  private drop(digest: string, close: boolean): void {
    const k = this.kept.get(digest);
    if (!k) return;
    clearTimeout(k.timer);
    this.kept.delete(digest);
    this.entries -= k.reader.summary.entries;
    if (close) void closeStarted(k.lazy);
  }
}
