// The mount table (/proc/self/mountinfo, proc(5) "mountinfo"): which mounts exist, of which type, where, with
// which options; and what is mounted at or below a directory. The one parser of the project.
// https://www.kernel.org/doc/html/latest/filesystems/proc.html (3.5 /proc/<pid>/mountinfo)
import { readFile } from 'node:fs/promises';

/** One line of mountinfo. */
export interface MountInfoEntry {
  id: number;
  parentId: number;
  /** "major:minor" of the mounted filesystem's device (for FUSE, the connection's anonymous device). */
  majorMinor: string;
  root: string;
  mountPoint: string;
  /** Per-mount options (ro, nosuid, nodev, ...). */
  mountOptions: string;
  fsType: string;
  source: string;
  /** Per-superblock options (for overlayfs: lowerdir=..., for FUSE: user_id=...). */
  superOptions: string;
}

/** Undo mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parse the text of /proc/<pid>/mountinfo; malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(' ');
    const right = line.slice(sep + 3).split(' ');
    if (left.length < 6 || right.length < 3) continue;
    out.push({
      id: Number(left[0]),
      parentId: Number(left[1]),
      majorMinor: left[2]!,
      root: unescape(left[3]!),
      mountPoint: unescape(left[4]!),
      mountOptions: left[5]!,
      fsType: right[0]!,
      source: unescape(right[1]!),
      superOptions: right[2]!,
    });
  }
  return out;
}

/** The current mounts of this process's mount namespace. */
export async function readMounts(signal?: AbortSignal): Promise<MountInfoEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', { encoding: 'utf8', signal }));
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
