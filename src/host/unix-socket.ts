// Unix stream sockets of long-lived processes (the snapshotter service, its fuse manager): connecting
// without failing when nobody listens, and claiming a socket path before listening on it, so a stale file
// left by a dead process is replaced and a live listener is never taken over.
import { lstat, mkdir, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { failedPrecondition } from '../errors.js';

/** A connected socket, or undefined when nothing listens at `path`. */
export function connectUnix(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => resolve(undefined));
  });
}

/**
 * Make `path` free to listen on: its directory exists (made with `dirMode`, default 0711), a stale socket is
 * removed; FailedPrecondition when something else is there or a process still listens on it.
 */
export async function claimSocketPath(path: string, dirMode = 0o711): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: dirMode });
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw failedPrecondition(`${path} exists and is not a socket`);
  const live = await connectUnix(path);
  if (live) {
    live.destroy();
    throw failedPrecondition(`another process is listening on ${path}`);
  }
  await rm(path, { force: true });
}
