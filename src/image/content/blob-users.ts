// Which named images reach which blobs of the store (through indexes and manifests to configs and layers):
// what `content ls` shows and what `content rm` refuses to delete without --force.
import { reachableDigests } from '../../store/gc.js';
import type { OciLayout } from '../../store/oci-layout.js';

/** Blob digest → names of the images that reach it (in index.json order). */
export type BlobUsers = Map<string, string[]>;

/** The images of `store` that reach each blob (blobs no image reaches are absent). */
export async function blobUsers(store: OciLayout): Promise<BlobUsers> {
  const users: BlobUsers = new Map();
  for (const { name, descriptor } of await store.list()) {
    for (const digest of await reachableDigests(store, [descriptor])) users.set(digest, [...(users.get(digest) ?? []), name]);
  }
  return users;
}
