// Leases protect content that a running command has written (or found) but not yet named from a
// concurrent gc: while any live process holds a lease on a layout, gc deletes nothing. A lease is a
// file `.lease-<owner>-<random>` in the layout's ingest directory; leases of dead processes are ignored
// and removed by gc.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isOwnerAlive, selfOwner } from './process-owner.js';
import { INGEST_PREFIX } from './blob-writer.js';

const LEASE_PREFIX = '.lease-';

/** Take a lease on the layout whose ingest directory is `ingestDir`; call the result to release it. */
export async function takeLease(ingestDir: string): Promise<() => Promise<void>> {
  await mkdir(ingestDir, { recursive: true });
  const path = join(ingestDir, `${LEASE_PREFIX}${selfOwner()}-${randomBytes(4).toString('hex')}`);
  await writeFile(path, '');
  return () => unlink(path).catch(() => {});
}

/** Owners of live leases in `ingestDir`; files of dead owners (leases and ingest files) are removed. */
export async function liveLeasesAndCleanup(ingestDir: string): Promise<string[]> {
  const live: string[] = [];
  for (const name of await readdir(ingestDir).catch(() => [] as string[])) {
    const prefix = name.startsWith(LEASE_PREFIX) ? LEASE_PREFIX : name.startsWith(INGEST_PREFIX) ? INGEST_PREFIX : undefined;
    if (prefix === undefined) continue;
    const owner = name.slice(prefix.length).split('-')[0] ?? '';
    if (isOwnerAlive(owner)) {
      if (prefix === LEASE_PREFIX) live.push(owner);
    } else await unlink(join(ingestDir, name)).catch(() => {});
  }
  return live;
}
