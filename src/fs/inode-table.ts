// Builds the inode tree of one layer from its TOC entries. Follows the reference's lazy mount
// (../shared/estargz-format.md, "How the reference lazy mount behaves"): missing parents are synthesized
// (0755, root-owned), hardlinks share one inode, `.wh.NAME` becomes a 0/0 character device NAME (unless the
// layer also has a real NAME), `.wh..wh..opq` becomes the overlayfs opaque xattr on its directory, and the
// prefetch landmarks are hidden from the root. Inode numbers follow TOC order, so they are stable for a TOC.

import { invalidArgument } from '../errors.js';
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, type TOCEntry } from '../estargz/toc-types.js';
import { cleanEntryName, joinPath, splitPath } from './entry-name.js';
import { ROOT_INO, typeBits, type Inode, type InodeKind } from './inode.js';

/** Prefix of whiteout entries in OCI layers (image-spec layer.md, "Whiteouts"). */
export const WHITEOUT_PREFIX = '.wh.';
/** Name of the entry that marks its directory opaque. */
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** st_size reported for directories (what ext4 shows for a small directory). */
export const DIR_SIZE = 4096;

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
    private readonly byIno: Map<number, Inode>,
  ) {}

  /** The inode numbered `ino`, if any. */
  get(ino: number): Inode | undefined {
    return this.byIno.get(ino);
  }

  /** The inode at a path ("" or "/" is the root), following no symlinks. */
  lookupPath(path: string): Inode | undefined {
    const clean = cleanEntryName(path);
    if (clean === '') return this.root;
    let node: Inode | undefined = this.root;
    for (const part of clean.split('/')) node = node?.children?.get(part);
    return node;
  }

  /** Number of inodes reachable from the root. */
  get size(): number {
    return this.byIno.size;
  }

  /** Every reachable inode (each hardlinked inode once). */
  inodes(): IterableIterator<Inode> {
    return this.byIno.values();
  }
}

/** Build the inode tree of a layer from its TOC entries (chunk entries are ignored). */
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
  /** Every name (hardlinks included) → its inode. */
  private readonly byPath = new Map<string, Inode>();
  private readonly whiteouts: PendingWhiteout[] = [];

  constructor(private readonly opaqueXattrs: string[]) {
    this.root = newDir(ROOT_INO, '');
    this.byPath.set('', this.root);
  }

  add(entry: TOCEntry): void {
    if (entry.type === 'chunk') return;
    const path = cleanEntryName(entry.name);
    if (path === '') return this.applyAttrs(this.root, entry);
    const [parentPath, base] = splitPath(path);
    const dir = this.ensureDir(parentPath);
    if (base === OPAQUE_WHITEOUT) return this.markOpaque(dir);
    if (base.startsWith(WHITEOUT_PREFIX)) {
      this.whiteouts.push({ dir, name: base.slice(WHITEOUT_PREFIX.length), entry });
      return;
    }
    if (dir === this.root && (base === PREFETCH_LANDMARK || base === NO_PREFETCH_LANDMARK)) return;
    if (entry.type === 'hardlink') return this.link(dir, path, base, entry);
    const existing = dir.children?.get(base);
    if (entry.type === 'dir' && existing?.kind === 'dir') return this.applyAttrs(existing, entry);
    const node = this.newNode(entry, dir, path);
    this.attach(dir, base, path, node);
  }

  finish(): InodeTable {
    for (const w of this.whiteouts) this.addWhiteout(w);
    const byIno = new Map<number, Inode>();
    countLinks(this.root, byIno);
    return new InodeTable(this.root, byIno);
  }

  private ensureDir(path: string): Inode {
    const found = this.byPath.get(path);
    if (found) {
      if (found.kind !== 'dir') throw invalidArgument(`TOC entry ${JSON.stringify(path)} is used as a directory but is a ${found.kind}`);
      return found;
    }
    const [parentPath, base] = splitPath(path);
    const parent = this.ensureDir(parentPath);
    const dir = newDir(this.nextIno++, path, parent);
    this.attach(parent, base, path, dir);
    return dir;
  }

  private attach(dir: Inode, base: string, path: string, node: Inode): void {
    dir.children?.set(base, node);
    this.byPath.set(path, node);
  }

  private link(dir: Inode, path: string, base: string, entry: TOCEntry): void {
    const targetPath = cleanEntryName(entry.linkName ?? '');
    const target = this.byPath.get(targetPath);
    if (!target || target.kind === 'dir') {
      throw invalidArgument(`TOC hardlink ${JSON.stringify(path)} points to ${target ? 'a directory' : 'a missing entry'} ${JSON.stringify(targetPath)}`);
    }
    this.attach(dir, base, path, target);
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
      rdev: { major: 0, minor: 0 },
      nlink: 1,
      xattrs: new Map(),
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
    node.xattrs = new Map([...decodeXattrs(entry), ...opaque]);
  }

  private markOpaque(dir: Inode): void {
    for (const name of this.opaqueXattrs) dir.xattrs.set(name, Buffer.from('y'));
  }

  private addWhiteout({ dir, name, entry }: PendingWhiteout): void {
    if (name === '' || dir.children?.has(name)) return;
    const path = joinPath(dir.path, name);
    const node = this.newNode({ ...entry, type: 'char', mode: 0, uid: 0, gid: 0, devMajor: 0, devMinor: 0, xattrs: {} }, dir, path);
    this.attach(dir, name, path, node);
  }
}

function newDir(ino: number, path: string, parent?: Inode): Inode {
  const dir = {
    ino,
    kind: 'dir',
    mode: typeBits('dir') | 0o755,
    uid: 0,
    gid: 0,
    mtime: 0,
    size: DIR_SIZE,
    rdev: { major: 0, minor: 0 },
    nlink: 2,
    xattrs: new Map(),
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

function decodeXattrs(entry: TOCEntry): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [name, b64] of Object.entries(entry.xattrs ?? {})) out.set(name, Buffer.from(b64, 'base64'));
  return out;
}

/** Walk the tree: number every reachable inode, set nlink (names for files, 2 + subdirs for dirs). */
function countLinks(root: Inode, byIno: Map<number, Inode>): void {
  byIno.set(root.ino, root);
  const stack: Inode[] = [root];
  for (let dir = stack.pop(); dir; dir = stack.pop()) {
    let subdirs = 0;
    for (const child of dir.children?.values() ?? []) {
      if (child.kind === 'dir') {
        subdirs++;
        byIno.set(child.ino, child);
        stack.push(child);
      } else if (byIno.has(child.ino)) {
        child.nlink++;
      } else {
        child.nlink = 1;
        byIno.set(child.ino, child);
      }
    }
    dir.nlink = 2 + subdirs;
  }
}
