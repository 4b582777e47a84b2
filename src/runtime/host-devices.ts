// The host's device nodes as runtime-spec devices, for `run --privileged` (containerd's WithHostDevices):
// every character and block device under /dev, except the per-mount ones a container gets its own of
// (pts, shm, mqueue) and the console.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpecDevice } from './spec-types.js';

/** Directories under /dev whose nodes are not the host's devices to share. */
const SKIPPED = new Set(['pts', 'shm', 'mqueue', 'fd', '.lxc', '.lxd-mounts', 'console']);

/** Every device node under `dev` (default /dev), as the spec lists them. */
export async function hostDevices(dev = '/dev'): Promise<SpecDevice[]> {
  const out: SpecDevice[] = [];
  await walk(dev, dev, out);
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

async function walk(dir: string, dev: string, out: SpecDevice[]): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (dir === dev && SKIPPED.has(name)) continue;
    const path = join(dir, name);
    const st = await lstat(path, { bigint: true }).catch(() => undefined);
    if (!st) continue;
    if (st.isDirectory()) await walk(path, dev, out);
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.push({
        type: st.isCharacterDevice() ? 'c' : 'b',
        path,
        major: deviceMajor(st.rdev),
        minor: deviceMinor(st.rdev),
        fileMode: Number(st.mode & 0o777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
      });
    }
  }
}

/** The major number of a Linux dev_t (glibc's gnu_dev_major). */
export function deviceMajor(rdev: bigint): number {
  return Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n));
}

/** The minor number of a Linux dev_t (glibc's gnu_dev_minor). */
export function deviceMinor(rdev: bigint): number {
  return Number((rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n));
}
