// The local image store of a root: the OCI layout `<root>/store` with its ingest directory, whose
// names are full normalized references (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1`).
// Opening it also removes, once per process and root, what dead processes left in the store and the
// snapshots directory (partial ingest files, leases, index temps, unpack temps, holds, trash).
import { join } from 'node:path';
import { removeDeadLeftovers } from './gc.js';
import { openLayout, type OciLayout } from './oci-layout.js';
import { storeDir } from './default-root.js';
import { removeDeadSnapshotLeftovers } from './snapshots.js';

const swept = new Set<string>();

/** Open (creating when missing) the image store of `root`; `cleanup: false` skips the start-up cleanup (prune does its own, reported). */
export async function openStore(root: string, options: { cleanup?: boolean } = {}): Promise<OciLayout> {
  const dir = storeDir(root);
  const layout = await openLayout(dir, { create: true, ingestDir: join(dir, 'ingest') });
  if (options.cleanup !== false && !swept.has(root)) {
    swept.add(root);
    await removeDeadLeftovers(layout).catch(() => undefined);
    await removeDeadSnapshotLeftovers(root).catch(() => undefined);
  }
  return layout;
}
