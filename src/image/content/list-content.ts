// `content ls`: every blob of the store with its size, when it was written, and the images that use it.
import { stat } from 'node:fs/promises';
import type { Context } from '../context.js';
import { blobUsers } from './blob-users.js';

/** One blob of the store. */
export interface ContentInfo {
  digest: string;
  size: number;
  /** When the blob was stored (its file's mtime), RFC 3339. */
  storedAt: string;
  /** Names of the images that reach it; empty for a blob the next gc removes. */
  images: string[];
}

/** Every blob of the store, sorted by digest. */
export async function listContent(ctx: Context): Promise<ContentInfo[]> {
  const store = await ctx.store();
  const users = await blobUsers(store);
  const out: ContentInfo[] = [];
  for await (const blob of store.walk()) {
    const st = await stat(store.blobPath(blob.digest)).catch(() => undefined);
    if (!st) continue; // deleted meanwhile
    out.push({ digest: blob.digest, size: blob.size, storedAt: st.mtime.toISOString(), images: users.get(blob.digest) ?? [] });
  }
  return out.sort((a, b) => a.digest.localeCompare(b.digest));
}
