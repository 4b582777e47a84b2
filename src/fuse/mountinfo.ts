// /proc/self/mountinfo parsing (proc(5), "mountinfo"): which mounts exist, of which type, where.

/** One line of mountinfo. */
export interface MountInfoEntry {
  id: number;
  parentId: number;
  /** "major:minor" of the mounted filesystem's device (for FUSE, the connection's anonymous device). */
  majorMinor: string;
  root: string;
  mountPoint: string;
  mountOptions: string;
  fsType: string;
  source: string;
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
