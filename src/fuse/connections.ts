// The kernel side of our FUSE mounts: which connection serves which mount point, and a way to abort one.
// A server that exits while its mount is busy (a reader blocked in a READ, a shell inside the mount) can
// only detach the mount lazily, and the connection lives on: the reader stays blocked (D state) and this
// process's reader threads stay blocked in read(2) on /dev/fuse, so Node cannot finish exiting. Aborting
// the connection through the fusectl filesystem fails every waiting and future request (the reader gets an
// error) and ends the reader threads. https://docs.kernel.org/filesystems/fuse.html#control-filesystem
import { existsSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** Where the fusectl filesystem is (usually) mounted. */
const FUSECTL = '/sys/fs/fuse/connections';

/** Connection id (fusectl directory name) by mount point, for the mounts this process serves. */
const byDir = new Map<string, string>();

/** Remember the connection of the mount at `dir` from its mountinfo "major:minor" device. */
export function noteConnection(dir: string, majorMinor: string): void {
  const [major, minor] = majorMinor.split(':').map(Number);
  if (major === undefined || minor === undefined || !Number.isInteger(major) || !Number.isInteger(minor)) return;
  byDir.set(dir, String(major * 2 ** 20 + minor)); // the kernel's dev_t: MKDEV(major, minor)
}

/** Forget the connection of `dir` (its mount has ended). */
export function forgetConnection(dir: string): void {
  byDir.delete(dir);
}

/**
 * Abort the connection serving `dir` (synchronous: for exit paths); mounts fusectl first when it is not
 * mounted. False when the connection is unknown or could not be aborted.
 */
export function abortConnectionSync(dir: string): boolean {
  const id = byDir.get(dir);
  if (id === undefined) return false;
  const abort = `${FUSECTL}/${id}/abort`;
  if (!existsSync(abort)) spawnSync('mount', ['-t', 'fusectl', 'fusectl', FUSECTL], { stdio: 'ignore', timeout: 10_000 });
  try {
    writeFileSync(abort, '1');
    return true;
  } catch {
    return false;
  }
}
