// Detect and remove FUSE mounts left behind by a killed server: the mount point stays in mountinfo but every
// access fails with ENOTCONN ("Transport endpoint is not connected"). The next command cleans them up.

import { statfs } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { liveMounts } from './exit-unmount.js';
import { FUSE_SUBTYPE } from './mount.js';
import { readMounts } from '../host/mountinfo.js';
import { lazyUnmount } from '../host/unmount.js';

/** Options of cleanupStaleMounts. */
export interface CleanupOptions {
  /** How long a statfs of a mount may take before it is considered alive but slow. Default 2000 ms. */
  statTimeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * True when a statfs of `dir` fails with ENOTCONN/ECONNABORTED (dead server); false if it answers or is slow.
 * statfs, not stat: the kernel answers stat from cached attributes (an hour for lazy layers) even after the
 * server died, while STATFS always reaches the server.
 */
export async function isDisconnected(dir: string, timeoutMs = 2000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'slow'>((r) => (timer = setTimeout(() => r('slow'), timeoutMs)));
  try {
    const r = await Promise.race([statfs(dir).then(() => 'ok' as const, (e: NodeJS.ErrnoException) => e.code ?? 'error'), timeout]);
    return r === 'ENOTCONN' || r === 'ECONNABORTED';
  } finally {
    clearTimeout(timer);
  }
}

/** Lazily unmount our dead FUSE mounts at or under `mountsDir`; returns the directories cleaned. */
export async function cleanupStaleMounts(mountsDir: string, options: CleanupOptions = {}): Promise<string[]> {
  const root = resolve(mountsDir);
  const own = new Set(liveMounts());
  const entries = await readMounts(options.signal);
  const candidates = entries.filter((e) => e.fsType === `fuse.${FUSE_SUBTYPE}`
    && (e.mountPoint === root || e.mountPoint.startsWith(root + sep)) && !own.has(e.mountPoint));
  const cleaned: string[] = [];
  // deepest first, so that nested mounts come off before their parents
  for (const e of candidates.sort((a, b) => b.mountPoint.length - a.mountPoint.length)) {
    options.signal?.throwIfAborted();
    if (!(await isDisconnected(e.mountPoint, options.statTimeoutMs))) continue;
    await lazyUnmount(e.mountPoint);
    cleaned.push(e.mountPoint);
  }
  return cleaned;
}
