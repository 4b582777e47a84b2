// Where ctr-remote keeps its state when `--root` is not given, and the fixed sub-directories of a root.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The default `--root`: /var/lib/ctr-remote for root, else $XDG_DATA_HOME/ctr-remote (~/.local/share/ctr-remote). */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0) return '/var/lib/ctr-remote';
  const xdg = env['XDG_DATA_HOME'];
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'share');
  return join(base, 'ctr-remote');
}

/** The image store of a root: an OCI image layout (cache/, snapshots/, mounts/ are its siblings). */
export const storeDir = (root: string): string => join(root, 'store');

/**
 * Scratch space of a root for commands' temp files (convert spools): on the store's filesystem, inside
 * the root's permissions, and found by `image prune` whatever $TMPDIR was (entries are owned names).
 */
export const tempDir = (root: string): string => join(root, 'tmp');

/** Unpacked layers (`sha256-<hex>/fs`), their unpack temps, holds and trash (store/snapshots.ts). */
export const snapshotsDir = (root: string): string => join(root, 'snapshots');
