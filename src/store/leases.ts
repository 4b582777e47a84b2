// Leases protect content that a running command has written (or found) but not yet named from a
// concurrent gc: while any live process holds a lease on a layout, gc deletes nothing. A lease is a
// file `.lease-<owner>-<random>` in the layout's ingest directory; leases of dead processes are ignored
// and removed by gc (with the ingest files of dead writers).
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nameOwner, ownedName } from '../host/owned-names.js';
import { isOwnerAlive } from '../host/process-owner.js';

/** Prefix of lease file names (followed by the owner). */
export const LEASE_PREFIX = '.lease-';

/** Take a lease on the layout whose ingest directory is `ingestDir`; call the result to release it. */
export async function takeLease(ingestDir: string): Promise<() => Promise<void>> {
  await mkdir(ingestDir, { recursive: true });
  const path = join(ingestDir, ownedName(LEASE_PREFIX));
  await writeFile(path, '');
  return () => unlink(path).catch(() => {});
}

/** Owners (pid.starttime) of the live leases in `ingestDir`. */
export async function liveLeases(ingestDir: string): Promise<string[]> {
  const live: string[] = [];
  for (const name of await readdir(ingestDir).catch(() => [] as string[])) {
    const owner = nameOwner(name, LEASE_PREFIX);
    if (owner !== undefined && isOwnerAlive(owner)) live.push(owner);
  }
  return live;
}
