// The local image store of a root: the OCI layout `<root>/store` with its ingest directory, whose
// names are full normalized references (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1`).
// Opening it also prepares the root: its private working directories are made (or tightened to) 0700
// (private-dirs.ts), and what dead processes left in the store and the snapshots directory is removed
// (partial ingest files, leases, index temps, unpack temps, holds, trash). A command opens it once, through
// its context (image/context.ts).
import { join } from 'node:path';
import { removeDeadLeftovers } from './gc.js';
import { openLayout, type OciLayout } from './oci-layout.js';
import { securePrivateDirs } from './private-dirs.js';
import type { RootLayout } from './root-layout.js';
import { removeDeadSnapshotLeftovers } from './snapshots.js';

/** Open (creating when missing) the image store of a root; `cleanup: false` skips the start-up cleanup (prune does its own, reported). */
export async function openStore(paths: RootLayout, options: { cleanup?: boolean } = {}): Promise<OciLayout> {
  await securePrivateDirs(paths);
  const layout = await openLayout(paths.store, { create: true, ingestDir: join(paths.store, 'ingest') });
  if (options.cleanup !== false) {
    await removeDeadLeftovers(layout).catch(() => undefined);
    await removeDeadSnapshotLeftovers(paths).catch(() => undefined);
  }
  return layout;
}
