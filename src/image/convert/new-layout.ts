// A new `oci:DIR` destination is written whole or not at all: into a staging sibling named for its owner
// (`.DIR.ctr-remote-<pid>.<start>-<rand>`), renamed to DIR once complete. What a killed writer left is
// removed by the next write to the same DIR (its owner is dead), so no half-written layout ever shows as
// DIR and none stays beside it.
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ownedName, removeDeadOwned } from '../../host/owned-names.js';
import { LayoutEndpoint } from '../../store/layout-endpoint.js';
import { openLayout } from '../../store/oci-layout.js';

/** Write a new layout at `dir` (which must not exist) through `write`, naming the image `tag`. */
export async function writeNewLayout<T>(dir: string, tag: string, write: (dst: LayoutEndpoint) => Promise<T>): Promise<T> {
  const prefix = `.${basename(dir)}.ctr-remote-`;
  await removeDeadOwned(dirname(dir), [prefix]);
  const staging = join(dirname(dir), ownedName(prefix));
  try {
    const result = await write(new LayoutEndpoint(await openLayout(staging, { create: true }), tag));
    await rename(staging, dir);
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
