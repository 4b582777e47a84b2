// The working directories of a root that hold unpacked image content, container layers, mounts and
// runtime state are private to the root's owner (0700): an unpacked layer or a container's upper dir can
// hold a setuid-root file or a device node from an untrusted image, and `run --env` secrets sit in bundles.
// Only the OCI-layout store (blobs are inert bytes) stays readable, so skopeo and umoci can read it.
import { chmod, mkdir, stat } from 'node:fs/promises';
import type { RootLayout } from './root-layout.js';

/** Mode of a private directory. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Create the private directories of `root` with mode 0700, and tighten any that exist with a wider mode
 * (roots made by earlier versions had 0755). Cheap: one stat per directory when all is in order. A user
 * who may not write the root (another user's root, read by `image ls`) leaves it as it is: securing it is
 * its owner's business, and what that user can do there is only read.
 */
export async function securePrivateDirs(paths: RootLayout): Promise<void> {
  try {
    await mkdir(paths.dir, { recursive: true });
    for (const dir of paths.privateDirs) await ensurePrivateDir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
  }
}

/** Make `dir` exist with mode 0700 (its parent must exist). */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { mode: PRIVATE_DIR_MODE }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  const st = await stat(dir);
  if ((st.mode & 0o7777) !== PRIVATE_DIR_MODE) await chmod(dir, PRIVATE_DIR_MODE);
}
