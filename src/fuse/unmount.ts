// Unmounting helpers shared by mount.ts, the exit hooks and stale-mount cleanup.

import { spawnSync } from 'node:child_process';
import { execa } from 'execa';
import { CtrError } from '../errors.js';

/** Detach a mount lazily (`umount -l`): it disappears now and is released when no longer busy. */
export async function lazyUnmount(dir: string): Promise<void> {
  const r = await execa('umount', ['-l', dir], { reject: false });
  if (r.exitCode !== 0) throw new CtrError('Unavailable', `umount -l ${dir}: ${String(r.stderr).trim()}`);
}

/** Synchronous unmount for exit paths, where nothing async runs any more: umount, then umount -l. */
export function unmountSync(dir: string): boolean {
  if (spawnSync('umount', [dir], { stdio: 'ignore' }).status === 0) return true;
  return spawnSync('umount', ['-l', dir], { stdio: 'ignore' }).status === 0;
}
