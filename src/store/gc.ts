// Garbage collection of a layout: delete every blob that no index.json entry reaches (through indexes
// and manifests to configs and layers). Runs under the index lock so no name changes meanwhile, and
// defers while another process holds a lease (it may be about to name blobs it just wrote).
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isIndexType, isManifestType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/types.js';
import { childDescriptors, MAX_MANIFEST_SIZE, parseManifestJson } from './manifest-json.js';
import { liveLeasesAndCleanup } from './leases.js';
import { isOwnerAlive } from './process-owner.js';
import type { BlobInfo, OciLayout } from './oci-layout.js';

export interface GcResult {
  /** Blobs deleted. */
  removed: BlobInfo[];
  freedBytes: number;
  /** Set when nothing was deleted because other processes hold leases (their pids). */
  deferredBy?: string[];
}

/** Delete unreferenced blobs of `layout` (see module comment). */
export async function collectGarbage(layout: OciLayout, options: { signal?: AbortSignal } = {}): Promise<GcResult> {
  return layout.withIndexLock(async () => {
    await removeDeadIndexTemps(layout.dir);
    const leases = await liveLeasesAndCleanup(layout.ingestDir);
    if (leases.length) return { removed: [], freedBytes: 0, deferredBy: leases.map((o) => o.split('.')[0] ?? o) };
    const reachable = await reachableDigests(layout, (await layout.readIndex()).manifests);
    const removed: BlobInfo[] = [];
    for await (const blob of layout.walk()) {
      options.signal?.throwIfAborted();
      if (reachable.has(blob.digest)) continue;
      await layout.delete(blob.digest);
      removed.push(blob);
    }
    return { removed, freedBytes: removed.reduce((n, b) => n + b.size, 0) };
  }, options);
}

/** Remove `index.json.tmp-<pid>-*` files left by writers that died between write and rename. */
async function removeDeadIndexTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = /^index\.json\.tmp-(\d+)-/.exec(name);
    if (m?.[1] !== undefined && !isOwnerAlive(`${m[1]}.0`)) await unlink(join(dir, name)).catch(() => {});
  }
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
