// Builds the inode tree of one layer from its TOC entries. Follows the reference's lazy mount
// (docs/ESTARGZ.md, "A layer as a filesystem"): missing parents are synthesized
// (0755, root-owned), hardlinks share one inode, `.wh.NAME` becomes a 0/0 character device NAME (unless the
// layer also has a real NAME), `.wh..wh..opq` becomes the overlayfs opaque xattr on its directory, and the
// prefetch landmarks are hidden from the root. Inode numbers follow TOC order, so they are stable for a TOC.
// Names follow the one rule of oci/entry-name.ts and whiteouts oci/whiteout.ts, as unpacking does: a name
// climbing above the root is refused, and a symlink of this layer met on a parent path is followed inside
// the layer (an absolute target from the layer root; a relative one that climbs out is refused), as
// unpack's RootResolver follows it inside the destination, so a layer mounts lazily as it would unpack.

import { invalidArgument } from '../errors.js';
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, type TOCEntry } from '../estargz/toc-types.js';
import { entryComponents, joinPath } from '../oci/entry-name.js';
import { isOverlayXattr, whiteoutKind } from '../oci/whiteout.js';
import { ROOT_INO, typeBits, type Inode, type InodeKind } from './inode.js';

/** st_size reported for directories (what ext4 shows for a small directory). */
export const DIR_SIZE = 4096;
/** Most symlinks followed while resolving one parent path (Linux's MAXSYMLINKS, as unpacking uses). */
const MAX_LINKS = 40;
/** The xattrs of the (many) inodes that have none: one shared, never-modified map. */
const NO_XATTRS: Map<string, Buffer> = new Map();

/** Options of buildInodeTable. */
export interface InodeTableOptions {
  /** Xattrs set to "y" on opaque directories. Default ["trusted.overlay.opaque"]; add
   * "user.overlay.opaque" for overlayfs mounted with `userxattr`. */
  opaqueXattrs?: string[];
}

/** The inodes of one layer, by number and by path. */
export class InodeTable {
  constructor(
    readonly root: Inode,
    /** Reachable inodes by number (a dense array: inode numbers are handed out in order). */
    private readonly byIno: (Inode | undefined)[],
    /** How many of them there are. */
    readonly size: number,
  ) {}

  /** The inode numbered `ino`, if any. */
  get(ino: number): Inode | undefined {
    return this.byIno[ino];
  }

  /** The inode at a path ("" or "/" is the root), following no symlinks. */
  lookupPath(path: string): Inode | undefined {
    let node: Inode | undefined = this.root;
    for (const part of entryComponents(path)) node = node?.children?.get(part);
    return node;
  }

  /** Every reachable inode (each hardlinked inode once). */
  *inodes(): IterableIterator<Inode> {
    for (const node of this.byIno) if (node) yield node;
  }
}

/** Build the inode tree of a layer from its TOC entries (chunk entries are ignored); InvalidArgument for a hostile name. */
export function buildInodeTable(entries: Iterable<TOCEntry>, options: InodeTableOptions = {}): InodeTable {
  const builder = new TreeBuilder(options.opaqueXattrs ?? ['trusted.overlay.opaque']);
  for (const entry of entries) builder.add(entry);
  return builder.finish();
}

interface PendingWhiteout {
  dir: Inode;
  name: string;
  entry: TOCEntry;
}

class TreeBuilder {
  private nextIno = ROOT_INO + 1;
  private readonly root: Inode;
  private readonly whiteouts: PendingWhiteout[] = [];
  /** The parent directory of the previous entry, by its components as named (entries come grouped by directory). */
  private last: { key: string; dir: Inode } | undefined;

  constructor(private readonly opaqueXattrs: string[]) {
    this.root = newDir(ROOT_INO, '');
  }

  add(entry: TOCEntry): void {
    if (entry.type === 'chunk') return;
    const comps = entryComponents(entry.name);
    const base = comps.pop();
    if (base === undefined) return this.applyAttrs(this.root, entry);
    const dir = this.parentDir(comps, entry.name);
    const wh = whiteoutKind(base);
    if (wh.kind === 'ignore') return;
    if (wh.kind === 'opaque') return this.markOpaque(dir);
    if (wh.kind === 'whiteout') return void this.whiteouts.push({ dir, name: wh.target, entry });
    if (dir === this.root && (base === PREFETCH_LANDMARK || base === NO_PREFETCH_LANDMARK)) return;
    if (entry.type === 'hardlink') return this.link(dir, base, entry);
    const existing = dir.children?.get(base);
    if (entry.type === 'dir' && existing?.kind === 'dir') return this.applyAttrs(existing, entry);
    if (existing?.kind === 'dir') this.last = undefined; // a directory replaced: cached parents may be under it
    this.attach(dir, base, this.newNode(entry, dir, joinPath(dir.path, base)));
  }

  finish(): InodeTable {
    for (const w of this.whiteouts) this.addWhiteout(w);
    const byIno = new Array<Inode | undefined>(this.nextIno).fill(undefined);
    return new InodeTable(this.root, byIno, countLinks(this.root, byIno));
  }

  private parentDir(comps: readonly string[], name: string): Inode {
    const key = comps.join('/');
    if (this.last?.key === key) return this.last.dir;
    const dir = this.dirAt(comps, name, true);
    if (!dir) throw invalidArgument(`TOC entry ${JSON.stringify(name)}: parent directory missing`);
    this.last = { key, dir };
    return dir;
  }

  /**
   * The directory at `comps` (cleaned components), created (0755) when missing if `create`, else undefined.
   * Symlinks on the way are followed inside the layer: an absolute target from the layer root, a relative
   * one from the link's directory; ".." of a target climbing above the root is refused.
   */
  private dirAt(comps: readonly string[], name: string, create: boolean): Inode | undefined {
    let dir = this.root;
    const queue = [...comps];
    let links = 0;
    while (queue.length > 0) {
      const c = queue.shift() as string;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (dir === this.root) throw invalidArgument(`TOC entry ${JSON.stringify(name)} goes through a symlink that leads outside the layer`);
        dir = dir.parent;
        continue;
      }
      let child = dir.children?.get(c);
      if (!child) {
        if (!create) return undefined;
        child = newDir(this.nextIno++, joinPath(dir.path, c), dir);
        this.attach(dir, c, child);
      }
      if (child.kind === 'dir') dir = child;
      else if (child.kind === 'symlink') {
        if (++links > MAX_LINKS) throw invalidArgument(`TOC entry ${JSON.stringify(name)}: too many levels of symbolic links`);
        const target = child.linkName ?? '';
        if (target.startsWith('/')) dir = this.root;
        queue.unshift(...target.split('/'));
      } else throw invalidArgument(`TOC entry ${JSON.stringify(name)}: ${JSON.stringify(joinPath(dir.path, c))} is a ${child.kind}, not a directory`);
    }
    return dir;
  }

  private attach(dir: Inode, base: string, node: Inode): void {
    dir.children?.set(base, node);
  }

  private link(dir: Inode, base: string, entry: TOCEntry): void {
    const comps = entryComponents(entry.linkName ?? '');
    const targetBase = comps.pop();
    const target = targetBase === undefined ? this.root : this.dirAt(comps, entry.name, false)?.children?.get(targetBase);
    if (!target || target.kind === 'dir') {
      const what = target ? 'a directory' : 'a missing entry';
      throw invalidArgument(`TOC hardlink ${JSON.stringify(entry.name)} points to ${what} ${JSON.stringify(entry.linkName ?? '')}`);
    }
    this.attach(dir, base, target);
  }

  private newNode(entry: TOCEntry, parent: Inode, path: string): Inode {
    const kind = entryKind(entry);
    const node: Inode = {
      ino: this.nextIno++,
      kind,
      mode: 0,
      uid: 0,
      gid: 0,
      mtime: 0,
      size: 0,
      rdev: NO_RDEV,
      nlink: 1,
      xattrs: NO_XATTRS,
      parent,
      path,
    };
    if (kind === 'dir') node.children = new Map();
    if (kind === 'reg') node.entry = entry;
    if (kind === 'symlink') node.linkName = entry.linkName ?? '';
    this.applyAttrs(node, entry);
    return node;
  }

  private applyAttrs(node: Inode, entry: TOCEntry): void {
    node.mode = typeBits(node.kind) | ((entry.mode ?? 0) & 0o7777);
    node.uid = entry.uid ?? 0;
    node.gid = entry.gid ?? 0;
    node.mtime = parseModTime(entry.modtime);
    node.size = inodeSize(node, entry);
    if (node.kind === 'char' || node.kind === 'block') node.rdev = { major: entry.devMajor ?? 0, minor: entry.devMinor ?? 0 };
    const opaque = [...node.xattrs].filter(([k]) => this.opaqueXattrs.includes(k));
    const xattrs = [...decodeXattrs(entry), ...opaque];
    node.xattrs = xattrs.length > 0 ? new Map(xattrs) : NO_XATTRS;
  }

  private markOpaque(dir: Inode): void {
    if (dir.xattrs === NO_XATTRS) dir.xattrs = new Map();
    for (const name of this.opaqueXattrs) dir.xattrs.set(name, Buffer.from('y'));
  }

  private addWhiteout({ dir, name, entry }: PendingWhiteout): void {
    if (dir.children?.has(name)) return;
    const node = this.newNode({ ...entry, type: 'char', mode: 0, uid: 0, gid: 0, devMajor: 0, devMinor: 0, xattrs: {} }, dir, joinPath(dir.path, name));
    this.attach(dir, name, node);
  }
}

/** Device numbers of every inode that is not a device. */
const NO_RDEV = Object.freeze({ major: 0, minor: 0 });

function newDir(ino: number, path: string, parent?: Inode): Inode {
  const dir = {
    ino,
    kind: 'dir',
    mode: typeBits('dir') | 0o755,
    uid: 0,
    gid: 0,
    mtime: 0,
    size: DIR_SIZE,
    rdev: NO_RDEV,
    nlink: 2,
    xattrs: NO_XATTRS,
    children: new Map(),
    path,
  } as Omit<Inode, 'parent'> as Inode;
  dir.parent = parent ?? dir;
  return dir;
}

function entryKind(entry: TOCEntry): InodeKind {
  switch (entry.type) {
    case 'dir':
    case 'reg':
    case 'symlink':
    case 'char':
    case 'block':
    case 'fifo':
      return entry.type;
    default:
      throw invalidArgument(`TOC entry ${JSON.stringify(entry.name)} has unsupported type ${JSON.stringify(entry.type)}`);
  }
}

function inodeSize(node: Inode, entry: TOCEntry): number {
  switch (node.kind) {
    case 'reg':
      return entry.size ?? 0;
    case 'symlink':
      return Buffer.byteLength(node.linkName ?? '');
    case 'dir':
      return DIR_SIZE;
    default:
      return 0;
  }
}

/** Seconds since the epoch of an RFC3339 TOC modtime; 0 when absent or unparsable. */
export function parseModTime(modtime: string | undefined): number {
  if (!modtime) return 0;
  const ms = Date.parse(modtime);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0;
}

/** The entry's xattrs, decoded; overlayfs's own (isOverlayXattr) are never taken from a TOC, as unpacking never takes them from a tar. */
function decodeXattrs(entry: TOCEntry): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, b64] of Object.entries(entry.xattrs ?? {})) if (!isOverlayXattr(name)) out.set(name, Buffer.from(b64, 'base64'));
  return out;
}

/** Walk the tree: index every reachable inode by number, set nlink (names for files, 2 + subdirs for dirs); returns how many. */
function countLinks(root: Inode, byIno: (Inode | undefined)[]): number {
  byIno[root.ino] = root;
  let count = 1;
  const stack: Inode[] = [root];
  for (let dir = stack.pop(); dir; dir = stack.pop()) {
    let subdirs = 0;
    for (const child of dir.children?.values() ?? []) {
      if (child.kind === 'dir') {
        subdirs++;
        byIno[child.ino] = child;
        count++;
        stack.push(child);
      } else if (byIno[child.ino]) {
        child.nlink++;
      } else {
        child.nlink = 1;
        byIno[child.ino] = child;
        count++;
      }
    }
    dir.nlink = 2 + subdirs;
  }
  return count;
}
