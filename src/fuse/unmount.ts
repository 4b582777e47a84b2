// Synchronous unmounting for exit paths, where this process can no longer serve its own FUSE mounts (the
// asynchronous kind is host/unmount.ts).

import { spawnSync } from 'node:child_process';
import { abortConnectionSync } from './connections.js';

/**
 * Synchronous unmount for exit paths, where this process can no longer answer FUSE requests: `-c` (no
 * canonicalization) keeps umount(8) from stat-ing the mount point, which would wait for us forever.
 * `dir` must be the mount point exactly as mountinfo shows it. umount; when busy, abort the connection (a
 * lazily detached mount would keep its reader and our reader threads blocked, see connections.ts), then
 * umount -l.
 */
export function unmountSync(dir: string): boolean {
  const opts = { stdio: 'ignore', timeout: 10_000 } as const;
  if (spawnSync('umount', ['-c', dir], opts).status === 0) return true;
  abortConnectionSync(dir);
  return spawnSync('umount', ['-c', '-l', dir], opts).status === 0;
}
