// Unmounting with umount(8): one mount point (lazily detached when busy), or everything at or below a
// directory, newest first. Synchronous unmounting for exit paths, which must also abort a FUSE connection,
// is fuse/unmount.ts.
import { CtrError } from '../errors.js';
import { runCommand } from './command.js';
import { mountsUnder } from './mountinfo.js';

/** Unmount one mount point; falls back to a lazy detach (`umount -l`) when it is busy. */
export async function unmount(target: string, signal?: AbortSignal): Promise<void> {
  const r = await runCommand('umount', [target], `unmount ${target}`, { signal });
  if (r.exitCode !== 0) await lazyUnmount(target, signal, r.error);
}

/** Detach a mount lazily (`umount -l`): it disappears now and is released when no longer busy. */
export async function lazyUnmount(target: string, signal?: AbortSignal, why = ''): Promise<void> {
  const r = await runCommand('umount', ['-l', target], `unmount ${target}`, { signal });
  if (r.exitCode !== 0) throw new CtrError('Unavailable', `unmount ${target}: ${why || r.error}`);
}

/** Unmount everything at or below `dir` (newest mount first); lazily detaches what stays busy. */
export async function unmountUnder(dir: string, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new CtrError('Aborted', `unmount ${dir}: aborted`);
  for (const point of await mountsUnder(dir, signal)) await unmount(point, signal);
}
