// Mount a RawFileSystem at a directory: open /dev/fuse, let mount(8) attach it (the fd is the child's fd 3),
// then serve it with the device loop. Unmounts cleanly on unmount(), on process exit, SIGINT and SIGTERM.
// Kernel mount options: https://www.kernel.org/doc/html/latest/filesystems/fuse.html#mount-options

import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { realpath, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { CtrError, unsupported } from '../errors.js';
import type { BurstSpinOptions } from './burst-spin.js';
import { startDeviceLoop, type DeviceLoopStats } from './device-loop.js';
import { readMounts } from '../host/mountinfo.js';
import { unmount as unmountPoint } from '../host/unmount.js';
import { FuseProtocol, type ProtocolOptions } from './protocol.js';
import type { RawFileSystem } from './raw-filesystem.js';
import { forgetConnection, noteConnection } from './connections.js';
import { registerLiveMount, unregisterLiveMount } from './exit-unmount.js';
import { unmountSync } from './unmount.js';

/** The filesystem type suffix of our mounts: mountinfo shows `fuse.ctr-remote`. */
export const FUSE_SUBTYPE = 'ctr-remote';

/** Options of mountFuse; every field has a default. */
export interface MountOptions extends ProtocolOptions {
  /** Mount read-only (`ro`). Default true. */
  readOnly?: boolean;
  /** Let other users (and runc containers) use the mount (`allow_other`). Default true. */
  allowOther?: boolean;
  /** Let the kernel check permissions from mode/uid/gid (`default_permissions`). Default true. */
  defaultPermissions?: boolean;
  /** The source column shown by mount(8) and mountinfo. Default 'ctr-remote'. */
  fsName?: string;
  /** Reader threads on the device. Default 2. */
  readers?: number;
  /** How the device is read: on the event loop (default) or by reader worker threads (DeviceLoopOptions.reader). */
  reader?: 'stream' | 'workers';
  /** When the serving thread waits on the device for the next request (burst-spin.ts; `spinUs: 0` never). */
  spin?: BurstSpinOptions;
  /** Kernel readahead for the mount in KiB (written to /sys/class/bdi/<dev>/read_ahead_kb); 0 keeps the kernel's. Default 1024. */
  readAheadKb?: number;
  /** Unmount when this signal aborts. */
  signal?: AbortSignal;
  /** Unmount on process exit, SIGINT and SIGTERM. Default true. */
  unmountOnExit?: boolean;
}

/** A live mount. */
export interface FuseMount {
  readonly dir: string;
  /** Unmount (lazily if busy) and wait until the connection has ended. Idempotent. */
  unmount(): Promise<void>;
  /** Resolves when the connection ends, whoever unmounted it. */
  readonly closed: Promise<void>;
  /** Request counters of the device loop. */
  readonly stats: DeviceLoopStats;
}

/**
 * Mount options string given to mount(8) for an open /dev/fuse fd passed as fd 3. Always `nosuid,nodev`: the
 * content comes from untrusted images, so a setuid-root file or a device node in a layer must not give any
 * user who can reach the mount more than the file's bytes (containers get devices from their runtime spec).
 */
export function kernelMountOptions(o: MountOptions): string {
  const opts = ['fd=3', 'rootmode=40000', 'user_id=0', 'group_id=0', 'nosuid', 'nodev'];
  if (o.allowOther ?? true) opts.push('allow_other');
  if (o.defaultPermissions ?? true) opts.push('default_permissions');
  if (o.readOnly ?? true) opts.push('ro');
  return opts.join(',');
}

/** Mount `fs` at `dir` (root only) and serve it until unmounted. */
export async function mountFuse(dir: string, fs: RawFileSystem, options: MountOptions = {}): Promise<FuseMount> {
  if (process.getuid?.() !== 0) throw unsupported(`mounting ${resolve(dir)} needs root (FUSE mount with allow_other)`);
  const target = await realpath(resolve(dir)).catch((e: unknown) => {
    throw new CtrError('NotFound', `mount point ${resolve(dir)}: ${(e as Error).message}`, { cause: e });
  });
  const fd = openSync('/dev/fuse', 'r+');
  try {
    const args = ['-i', '-t', `fuse.${FUSE_SUBTYPE}`, '-o', kernelMountOptions(options), options.fsName ?? 'ctr-remote', target];
    await runWithFd3('mount', args, fd, options.signal);
  } catch (e) {
    closeSync(fd);
    throw new CtrError('Unavailable', `mount FUSE at ${target}: ${(e as Error).message}`, { cause: e });
  }
  return serveMounted(target, fd, fs, options);
}

async function serveMounted(dir: string, fd: number, fs: RawFileSystem, options: MountOptions): Promise<FuseMount> {
  const protocol = new FuseProtocol(fs, options);
  const onError = options.onError;
  const loop = startDeviceLoop(fd, protocol, { ...(options.reader ? { reader: options.reader } : {}), ...(options.spin ? { spin: options.spin } : {}), readers: options.readers, onError: onError && ((e) => onError(e, 'device')) });
  let unmounting: Promise<void> | undefined;
  const unmount = (): Promise<void> => (unmounting ??= unmountPoint(dir).then(() => closed));
  const closed = loop.done.then(async (end) => {
    if (end === 'failed') unmountSync(dir); // never leave a mount whose server is gone
    unregisterLiveMount(dir);
    forgetConnection(dir);
    options.signal?.removeEventListener('abort', onAbort);
    if (!protocol.destroyed) await fs.destroy?.();
  });
  const onAbort = () => void unmount();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.unmountOnExit ?? true) registerLiveMount(dir, unmount);
  // INIT caps the readahead at the kernel default, so raise it only once INIT has been answered
  const first = await Promise.race([loop.initialized.then(() => 'init' as const), closed.then(() => 'closed' as const)]);
  if (first === 'closed') throw new CtrError('Unavailable', `FUSE server for ${dir} ended before the kernel connected`);
  try {
    const device = await deviceOf(dir);
    if (device) noteConnection(dir, device);
    if (device && (options.readAheadKb ?? 1024) > 0) await setReadAhead(device, options.readAheadKb ?? 1024);
    // The kernel starts the root inode with `rootmode` (type bits only, no permissions) until a GETATTR
    // refreshes it. overlayfs copies that mode when it stacks on the mount, so without this stat every
    // non-root user is refused at the top of an overlay of our layers.
    await stat(dir);
  } catch (e) {
    await unmount(); // nobody else would: the caller never gets this mount
    throw new CtrError('Unavailable', `FUSE mount at ${dir}: ${(e as Error).message}`, { cause: e });
  }
  return { dir, unmount, closed, stats: loop.stats };
}

/** Run a command with `fd` as its fd 3; rejects with its stderr when it fails. */
function runWithFd3(cmd: string, args: string[], fd: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe', fd], signal });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(stderr.trim() || `${cmd} exited ${code}`))));
  });
}

/** The "major:minor" device of our FUSE mount at `dir` (its connection), from mountinfo. */
async function deviceOf(dir: string): Promise<string | undefined> {
  return (await readMounts()).reverse().find((e) => e.mountPoint === dir && e.fsType === `fuse.${FUSE_SUBTYPE}`)?.majorMinor;
}

/** Raise the kernel readahead of the mount's backing device so sequential reads arrive as large READs. */
async function setReadAhead(device: string, kb: number): Promise<void> {
  try {
    await writeFile(`/sys/class/bdi/${device}/read_ahead_kb`, String(kb));
  } catch {
    // tuning only: a read-only /sys (some containers) leaves the kernel default
  }
}
