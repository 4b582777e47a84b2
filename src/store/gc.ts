// Garbage collection of a layout: delete every blob that no index.json entry reaches (through indexes
// and manifests to configs and layers), and the ingest files, leases and index.json temps of processes
// that died. Runs under the index lock so no name changes meanwhile, and defers blob deletion while
// another process holds a lease (it may be about to name blobs it just wrote).
import { isIndexType, isManifestType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import { removeDeadOwned, type Leftover } from '../host/owned-names.js';
import { ATOMIC_TEMP_INFIX } from '../host/atomic-file.js';
import { INGEST_PREFIX } from './blob-writer.js';
import { childDescriptors, MAX_MANIFEST_SIZE, parseManifestJson } from '../oci/manifest-json.js';
import { LEASE_PREFIX, liveLeases } from './leases.js';
import type { BlobInfo, OciLayout } from './oci-layout.js';

/** What collectGarbage removed (or, with dryRun, would remove). */
export interface GcResult {
  /** Blobs deleted. */
  removed: BlobInfo[];
  /** Bytes of the deleted blobs. */
  freedBytes: number;
  /** Partial ingest files, leases and index temps of dead processes (their bytes are not in freedBytes). */
  leftovers: Leftover[];
  /** Set when no blob was deleted because other processes hold leases (their pids). */
  deferredBy?: string[];
}

/** Options of collectGarbage. */
export interface GcOptions {
  /** Report what would be deleted without deleting anything (default false). */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Delete unreferenced blobs and dead writers' files of `layout` (see module comment). */
export async function collectGarbage(layout: OciLayout, options: GcOptions = {}): Promise<GcResult> {
  return layout.withIndexLock(async () => {
    const leftovers = await removeDeadLeftovers(layout, options);
    const leases = await liveLeases(layout.ingestDir);
    if (leases.length) return { removed: [], freedBytes: 0, leftovers, deferredBy: leases.map((o) => o.split('.')[0] ?? o) };
    const reachable = await reachableDigests(layout, (await layout.readIndex()).manifests);
    const removed: BlobInfo[] = [];
    for await (const blob of layout.walk()) {
      options.signal?.throwIfAborted();
      if (reachable.has(blob.digest)) continue;
      if (!options.dryRun) await layout.delete(blob.digest);
      removed.push(blob);
    }
    return { removed, freedBytes: removed.reduce((n, b) => n + b.size, 0), leftovers };
  }, options);
}

/** Remove the ingest files, leases and `index.json.tmp-<owner>-*` files that dead processes left in `layout`. */
export async function removeDeadLeftovers(layout: OciLayout, options: GcOptions = {}): Promise<Leftover[]> {
  return [
    ...(await removeDeadOwned(layout.ingestDir, [INGEST_PREFIX, LEASE_PREFIX], options)),
    ...(await removeDeadOwned(layout.dir, [`index.json${ATOMIC_TEMP_INFIX}`], options)),
  ];
}

/** Digests reachable from `roots` (missing blobs are reachable but not descended into). */
export async function reachableDigests(layout: OciLayout, roots: Descriptor[]): Promise<Set<string>> {
  const seen = new Set<string>();
  const queue = [...roots];
  for (let d = queue.pop(); d; d = queue.pop()) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    if (!isManifestType(d.mediaType) && !isIndexType(d.mediaType)) continue;
    if (!(await layout.has(d.digest))) continue;
    const bytes = await layout.readBytes(d.digest, MAX_MANIFEST_SIZE);
    queue.push(...childDescriptors(parseManifestJson(bytes, d)));
  }
  return seen;
}

/**
 * Run `fn`, which writes blobs into `layout` and names them last, under a lease (so a concurrent gc keeps
 * them); when `fn` fails (or is interrupted), collect the blobs it left unnamed. The collection runs
 * without the caller's (aborted) signal; if another live process holds a lease it is deferred to the
 * next gc or `image prune`. Its own failure never hides `fn`'s error.
 */
export async function writeOrCollect<T>(layout: OciLayout, fn: () => Promise<T>): Promise<T> {
  const release = await layout.lease();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await release();
    await collectGarbage(layout).catch(() => undefined);
    throw e;
  }
  await release();
  return result;
}
