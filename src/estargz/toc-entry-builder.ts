// Turning tar headers into TOC entries the way the reference writer does (modtime rounding, user and
// group names only when they change for an id, xattrs as base64).
import type { TarHeader } from '../tar/header.js';
import type { TOCEntry, TOCEntryType } from './toc-types.js';

const TYPES: Record<TarHeader['type'], TOCEntryType> = {
  file: 'reg',
  dir: 'dir',
  symlink: 'symlink',
  hardlink: 'hardlink',
  char: 'char',
  block: 'block',
  fifo: 'fifo',
};

/** RFC 3339 UTC to the second (rounded half up); "" for the zero/epoch time, as the reference writes. */
export function formatModtime(sec: number, nsec = 0): string {
  if (sec === 0) return '';
  const t = sec + (nsec >= 500_000_000 ? 1 : 0);
  const iso = new Date(t * 1000).toISOString();
  return `${iso.slice(0, 19)}Z`;
}

/** Builds TOC entries from headers; remembers the last user/group name written for each id. */
export class TocEntryBuilder {
  private readonly unames = new Map<number, string>();
  private readonly gnames = new Map<number, string>();

  /** The TOC entry for a header (payload fields — offset, digests, chunks — are filled by the writer). */
  entryFor(h: TarHeader): TOCEntry {
    const e: TOCEntry = { name: h.name, type: TYPES[h.type] };
    if (h.type === 'file') e.size = h.size;
    const modtime = formatModtime(h.mtime, h.mtimeNsec);
    if (modtime) e.modtime = modtime;
    if (h.type === 'symlink' || h.type === 'hardlink') e.linkName = h.linkname ?? '';
    if (h.mode) e.mode = h.mode;
    if (h.uid) e.uid = h.uid;
    if (h.gid) e.gid = h.gid;
    const u = changed(this.unames, h.uid, h.uname);
    if (u) e.userName = u;
    const g = changed(this.gnames, h.gid, h.gname);
    if (g) e.groupName = g;
    if (h.type === 'char' || h.type === 'block') {
      if (h.devmajor) e.devMajor = h.devmajor;
      if (h.devminor) e.devMinor = h.devminor;
    }
    if (h.xattrs && h.xattrs.size > 0) {
      e.xattrs = {};
      for (const [k, v] of h.xattrs) e.xattrs[k] = Buffer.from(v).toString('base64');
    }
    return e;
  }
}

function changed(seen: Map<number, string>, id: number, name: string | undefined): string | undefined {
  if (!name || seen.get(id) === name) return undefined;
  seen.set(id, name);
  return name;
}
