// Unmounting helpers shared by mount.ts, the exit hooks and stale-mount cleanup.

import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { CtrError } from '../errors.js';

/** Detach a mount lazily (`umount -l`): it disappears now and is released when no longer busy. */
export async function lazyUnmount(dir: string): Promise<void> {
  const r = await execa('umount', ['-l', dir], { reject: false });
  if (r.exitCode !== 0) throw new CtrError('Unavailable', `umount -l ${dir}: ${String(r.stderr).trim()}`);
}

/**
 * Synchronous unmount for exit paths, where this process can no longer answer FUSE requests: `-c` (no
 * canonicalization) keeps umount(8) from stat-ing the mount point, which would wait for us forever.
 * `dir` must be the mount point exactly as mountinfo shows it. umount, then umount -l.
 */
export function unmountSync(dir: string): boolean {
  const opts = { stdio: 'ignore', timeout: 10_000 } as const;
  if (spawnSync('umount', ['-c', dir], opts).status === 0) return true;
  return spawnSync('umount', ['-c', '-l', dir], opts).status === 0;
}
