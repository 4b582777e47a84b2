// `image rm REF...`: drop names from the store, then garbage-collect blobs no name reaches any more.
import { openStore } from '../store/image-store.js';
import { collectGarbage, type GcResult } from '../store/gc.js';
import { normalizeName } from './location.js';

/** Outcome of removeImages. */
export interface RemoveResult {
  /** Names removed (normalized). */
  removed: string[];
  /** Names given that the store did not have (normalized). */
  missing: string[];
  gc: GcResult;
}

/** Remove `refs` from the store of `root` and collect garbage. Unknown names are reported, not thrown. */
export async function removeImages(root: string, refs: string[], options: { signal?: AbortSignal } = {}): Promise<RemoveResult> {
  const names = refs.map(normalizeName);
  const store = await openStore(root);
  const removed: string[] = [];
  const missing: string[] = [];
  for (const name of names) (await store.removeName(name, options) ? removed : missing).push(name);
  return { removed, missing, gc: await collectGarbage(store, options) };
}
