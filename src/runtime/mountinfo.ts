// The mount table of this process's mount namespace (/proc/self/mountinfo), to find what is mounted
// under a directory. https://www.kernel.org/doc/html/latest/filesystems/proc.html (3.5 mountinfo)
import { readFile } from 'node:fs/promises';

/** One mount as the kernel lists it. */
export interface MountEntry {
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

/** Parse mountinfo text; octal escapes (\040 for space…) in paths are decoded. */
export function parseMountinfo(text: string): MountEntry[] {
  return text.split('\n').flatMap((line) => {
    const sep = line.indexOf(' - ');
    if (sep < 0) return [];
    const pre = line.slice(0, sep).split(' ');
    const post = line.slice(sep + 3).split(' ');
    const mountPoint = pre[4];
    if (mountPoint === undefined) return [];
    return [{ mountPoint: unescape(mountPoint), fsType: post[0] ?? '', source: unescape(post[1] ?? ''), superOptions: post[2] ?? '' }];
  });
}

/** The current mounts of this process. */
export async function readMounts(signal?: AbortSignal): Promise<MountEntry[]> {
  return parseMountinfo(await readFile('/proc/self/mountinfo', { encoding: 'utf8', signal }));
}

/**
 * Mount points at or below `dir`, most recently mounted first: the order to unmount them in (an
 * overlay comes off before the FUSE layer mounts it stacks, wherever they sit in the tree).
 */
export async function mountsUnder(dir: string, signal?: AbortSignal): Promise<string[]> {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  const points = (await readMounts(signal)).map((m) => m.mountPoint).filter((p) => p === dir || p.startsWith(prefix));
  return [...new Set(points.reverse())];
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
