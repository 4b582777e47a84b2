// `content rm DIGEST...`: delete blobs from the store. A blob an image reaches is refused (FailedPrecondition
// naming the images) unless `force`, which deletes it anyway and leaves those images incomplete (`images
// check` reports them; pulling them again restores it). Checked and deleted under the index lock, so no
// name appears meanwhile.
import { failedPrecondition } from '../../errors.js';
import { digestHex } from '../../oci/digest.js';
import type { Context } from '../context.js';
import { blobUsers } from './blob-users.js';

/** Options of removeContent. */
export interface RemoveContentOptions {
  /** Delete blobs that images reference too (default false: refuse them). */
  force?: boolean;
  signal?: AbortSignal;
}

/** What removeContent did. */
export interface RemoveContentResult {
  /** Blobs deleted. */
  removed: string[];
  /** Digests the store did not hold. */
  missing: string[];
  /** Blobs deleted (with force) that these images still referenced: digest → image names. */
  broken: Record<string, string[]>;
}

/** Delete `digests` from the store (see module comment). Nothing is deleted when any is refused. */
export async function removeContent(ctx: Context, digests: readonly string[], options: RemoveContentOptions = {}): Promise<RemoveContentResult> {
  for (const d of digests) digestHex(d);
  const store = await ctx.store();
  return store.withIndexLock(async () => {
    const users = await blobUsers(store);
    const used = digests.filter((d) => users.has(d));
    if (used.length > 0 && !options.force) {
      const d = used[0]!;
      throw failedPrecondition(`blob ${d} is used by image ${users.get(d)!.join(', ')}: remove the image (image rm), or pass --force to delete the blob anyway`);
    }
    const result: RemoveContentResult = { removed: [], missing: [], broken: {} };
    for (const d of new Set(digests)) {
      options.signal?.throwIfAborted();
      if (!(await store.has(d))) {
        result.missing.push(d);
        continue;
      }
      await store.delete(d);
      result.removed.push(d);
      const names = users.get(d);
      if (names) result.broken[d] = names;
    }
    return result;
  }, options.signal ? { signal: options.signal } : {});
}
