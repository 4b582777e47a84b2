// The access recorder used by `image optimize`: which files a workload opens, in first-access order.
// Matches what the reference records with fanotify (FAN_OPEN | FAN_ACCESS without FAN_ONDIR, see
// stargz-snapshotter analyzer/fanotify): opening a regular file counts; stat, readdir and readlink do not.
// A hardlinked file is reported under its first name in the TOC, the entry that carries the payload.

/** Calls `onAccess` once per inode, the first time it is opened. */
export class AccessRecorder {
  private readonly seen = new Set<number>();

  constructor(private readonly onAccess: (path: string) => void) {}

  /** Note an access to inode `ino` at `path()`; only the first access of an inode is reported. */
  record(ino: number, path: () => string): void {
    if (this.seen.has(ino)) return;
    this.seen.add(ino);
    this.onAccess(path());
  }
}
