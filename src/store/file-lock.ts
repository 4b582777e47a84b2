// An inter-process mutex: a lock file created with O_EXCL that holds its owner (see process-owner.ts).
// A lock whose owner died (SIGKILL, crash) is broken by the next waiter; breaking is itself guarded by
// an O_EXCL "<lock>.break" file so that two waiters never remove each other's fresh lock.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CtrError } from '../errors.js';
import { isOwnerAlive, selfOwner } from '../host/process-owner.js';

export interface LockOptions {
  /** Give up after this long (default 60 000 ms) with an Unavailable error naming the holder. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** A lock file whose owner wrote nothing for this long is considered abandoned mid-creation. */
const EMPTY_LOCK_GRACE_MS = 5_000;
/** A breaker file older than this belongs to a waiter that died while breaking. */
const BREAKER_GRACE_MS = 10_000;

/** Release function returned by acquireLock. */
export type Release = () => Promise<void>;

/** Take the lock at `path`, waiting (polling with backoff) while a live process holds it. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<Release> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const owner = `${selfOwner()} ${Math.random().toString(36).slice(2)}`;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    if (tryCreate(path, owner)) return () => releaseLock(path, owner);
    const holder = readHolder(path);
    if (holder !== undefined && (await isStale(path, holder))) await breakLock(path, holder);
    else if (Date.now() > deadline) {
      throw new CtrError('Unavailable', `timed out waiting for lock ${path} (held by pid ${holder?.split('.')[0] ?? '?'})`);
    } else await sleep(Math.min(100, 2 + attempt * 3) * (0.5 + Math.random()), undefined, { signal: options.signal });
  }
}

/** Run `fn` while holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, options?: LockOptions): Promise<T> {
  const release = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

// The lock's own file operations are synchronous: they are a few microseconds of metadata work (no fsync),
// and each asynchronous one was a round trip through libuv's threadpool (an uncontended lock and release took
// eight; the snapshotter service takes one per RPC that changes its metadata).

function tryCreate(path: string, owner: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, owner);
  } finally {
    closeSync(fd);
  }
  return true;
}

function readHolder(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function isStale(path: string, holder: string): Promise<boolean> {
  if (holder === '') {
    const st = await stat(path).catch(() => undefined);
    return st !== undefined && Date.now() - st.mtimeMs > EMPTY_LOCK_GRACE_MS;
  }
  return !isOwnerAlive(holder.split(' ')[0] ?? '');
}

async function breakLock(path: string, holder: string): Promise<void> {
  const breaker = `${path}.break`;
  let fh;
  try {
    fh = await open(breaker, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const st = await stat(breaker).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > BREAKER_GRACE_MS) await unlink(breaker).catch(() => {});
    return;
  }
  try {
    // Only the stale holder's file is removed: nobody else can replace it while we hold the breaker.
    if (readHolder(path) === holder) await unlink(path).catch(() => {});
  } finally {
    await fh.close();
    await unlink(breaker).catch(() => {});
  }
}

async function releaseLock(path: string, owner: string): Promise<void> {
  if (readHolder(path) === owner) unlinkSync(path);
}
