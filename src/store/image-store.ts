// The local image store of a root: the OCI layout `<root>/store` with its ingest directory, whose
// names are full normalized references (`docker.io/library/busybox:latest`, `127.0.0.1:5000/app:1`).
import { join } from 'node:path';
import { openLayout, type OciLayout } from './oci-layout.js';
import { storeDir } from './default-root.js';

/** Open (creating when missing) the image store of `root`. */
export async function openStore(root: string): Promise<OciLayout> {
  const dir = storeDir(root);
  return openLayout(dir, { create: true, ingestDir: join(dir, 'ingest') });
}
