// The local image store of a root: the OCI layout `<root>/store` with its ingest directory, whose
// names are full normalized references (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1`).
// Every command that uses a root opens its store first, so opening it also prepares the root, once per
// process and root: its private working directories are made (or tightened to) 0700 (private-dirs.ts),
// and what dead processes left in the store and the snapshots directory is removed (partial ingest files,
// leases, index temps, unpack temps, holds, trash).
import { join } from 'node:path';
import { removeDeadLeftovers } from './gc.js';
import { openLayout, type OciLayout } from './oci-layout.js';
import { storeDir } from './default-root.js';
import { securePrivateDirs } from './private-dirs.js';
import { removeDeadSnapshotLeftovers } from './snapshots.js';

const secured = new Set<string>();
const swept = new Set<string>();

/** Open (creating when missing) the image store of `root`; `cleanup: false` skips the start-up cleanup (prune does its own, reported). */
export async function openStore(root: string, options: { cleanup?: boolean } = {}): Promise<OciLayout> {
  if (!secured.has(root)) {
    await securePrivateDirs(root);
    secured.add(root);
  }
  const dir = storeDir(root);
  const layout = await openLayout(dir, { create: true, ingestDir: join(dir, 'ingest') });
  if (options.cleanup !== false && !swept.has(root)) {
    swept.add(root);
    await removeDeadLeftovers(layout).catch(() => undefined);
    await removeDeadSnapshotLeftovers(root).catch(() => undefined);
  }
  return layout;
}
