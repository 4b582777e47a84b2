// The local image store of a root: the OCI layout `<root>/store` with its ingest directory, whose
// names are full normalized references (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1`).
// Opening it also makes (or tightens to 0700) the root's private working directories (private-dirs.ts):
// every command that uses a root opens its store first.
import { join } from 'node:path';
import { openLayout, type OciLayout } from './oci-layout.js';
import { storeDir } from './default-root.js';
import { securePrivateDirs } from './private-dirs.js';

/** Open (creating when missing) the image store of `root`. */
export async function openStore(root: string): Promise<OciLayout> {
  await securePrivateDirs(root);
  const dir = storeDir(root);
  return openLayout(dir, { create: true, ingestDir: join(dir, 'ingest') });
}
