// The FUSE view of one layer, over its TOC index (estargz/toc-index.ts, which holds the tree: names by the
// one rule, parents through the layer's symlinks, hardlinks, chunks). What fs/ adds is only what FUSE and
// overlayfs want to see (docs/ESTARGZ.md, "A layer as a filesystem"): inode numbers (index ids + 1, so
// stable for a TOC), stat modes and sizes, a whiteout `.wh.NAME` as a 0/0 character device NAME, an opaque
// directory as the overlayfs opaque xattr, the prefetch landmarks hidden from the root, and no overlayfs
// metadata xattr taken from the layer (oci/whiteout.ts isOverlayXattr).

import type { Attr } from '../fuse/raw-filesystem.js';
import { TocDir, TocFile, type TocNode } from '../estargz/toc-node.js';
import type { TocIndex } from '../estargz/toc-index.js';
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK } from '../estargz/toc-types.js';
import { entryComponents } from '../oci/entry-name.js';
import { isOverlayXattr } from '../oci/whiteout.js';
import { ROOT_INO, S_IFCHR, typeBits, type InodeKind } from './inode.js';

/** st_size reported for directories (what ext4 shows for a small directory). */
const DIR_SIZE = 4096;
/** The xattrs of the (many) inodes that have none: one shared, never-modified map. */
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();
const OPAQUE_VALUE = Buffer.from('y');

/** Options of buildInodeTable. */
export interface InodeTableOptions {
  /** Xattrs set to "y" on opaque directories. Default ["trusted.overlay.opaque"]; add
   * "user.overlay.opaque" for overlayfs mounted with `userxattr`. */
  opaqueXattrs?: string[];
}

/** The inodes of one layer as FUSE serves them: the index's nodes under inode numbers, with stat attributes. */
export class InodeTable {
  /** The root directory (inode ROOT_INO). */
  readonly root: TocDir;
  /** Nodes reachable only under a hidden landmark name (see hiddenName). */
  private readonly hidden: ReadonlySet<TocNode>;
  private readonly opaqueXattrs: readonly string[];
  private counted: number | undefined;
  private anyXattr: boolean | undefined;

  constructor(
    /** The layer's TOC index. */
    readonly index: TocIndex,
    options: InodeTableOptions = {},
  ) {
    this.root = index.root;
    this.opaqueXattrs = options.opaqueXattrs ?? ['trusted.overlay.opaque'];
    const hidden = new Set<TocNode>();
    for (const name of [PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK]) {
      const n = this.root.children.get(name);
      if (n && (n instanceof TocDir || n.numLink === 1)) hidden.add(n);
    }
    this.hidden = hidden;
  }

  /** The inode number of `node`. */
  ino(node: TocNode): number {
    return node.id + ROOT_INO;
  }

  /** The inode numbered `ino`, if any. */
  get(ino: number): TocNode | undefined {
    const node = this.index.node(ino - ROOT_INO);
    return node && !this.hidden.has(node) ? node : undefined;
  }

  /** The entry `name` of directory `dir`: a file, directory or link of the layer, or a whiteout. */
  lookup(dir: TocDir, name: string): TocNode | undefined {
    const child = dir.children.get(name);
    if (child && !this.hiddenName(dir, name)) return child;
    return dir.whiteouts?.get(name);
  }

  /** The entries of `dir` by name, unsorted: its children (landmarks hidden at the root) and its whiteouts. */
  list(dir: TocDir): [string, TocNode][] {
    const out: [string, TocNode][] = [];
    for (const entry of dir.children) if (!this.hiddenName(dir, entry[0])) out.push(entry);
    for (const entry of dir.whiteouts ?? []) out.push(entry);
    return out;
  }

  /** The inode at a path ("" or "/" is the root), following no symlinks. */
  lookupPath(path: string): TocNode | undefined {
    let node: TocNode | undefined = this.root;
    for (const part of entryComponents(path)) node = node instanceof TocDir ? this.lookup(node, part) : undefined;
    return node;
  }

  /** Every inode (each hardlinked inode once). */
  *inodes(): IterableIterator<TocNode> {
    for (const node of this.index.nodes()) if (!this.hidden.has(node)) yield node;
  }

  /** How many inodes there are. */
  get size(): number {
    this.counted ??= this.index.count - this.hidden.size;
    return this.counted;
  }

  /** Whether `name` of `dir` is hidden: the prefetch landmarks at the root. */
  private hiddenName(dir: TocDir, name: string): boolean {
    return dir === this.root && (name === PREFETCH_LANDMARK || name === NO_PREFETCH_LANDMARK);
  }

  /** The file type FUSE shows: a whiteout is a character device. */
  kind(node: TocNode): InodeKind {
    return node.type === 'whiteout' ? 'char' : node.type;
  }

  /** FUSE attributes of an inode: mode with S_IFMT bits, st_size, device numbers, 512-byte blocks. */
  attr(node: TocNode): Attr {
    const kind = this.kind(node);
    const size = statSize(node);
    const attr: Attr = {
      ino: node.id + ROOT_INO,
      mode: node.type === 'whiteout' ? S_IFCHR : typeBits(kind) | (node.mode & 0o7777),
      nlink: node.numLink,
      uid: node.uid,
      gid: node.gid,
      size,
      mtime: { sec: node.mtime },
      blocks: kind === 'reg' || kind === 'dir' ? Math.ceil(size / 512) : 0,
    };
    if (kind === 'char' || kind === 'block') attr.rdev = { major: node.extra?.devMajor ?? 0, minor: node.extra?.devMinor ?? 0 };
    return attr;
  }

  /** Whether any inode has an extended attribute FUSE shows (see xattrs); found once, by a walk of the inodes. */
  hasXattrs(): boolean {
    if (this.anyXattr === undefined) {
      this.anyXattr = false;
      for (const node of this.inodes()) {
        if (this.xattrs(node).size > 0) {
          this.anyXattr = true;
          break;
        }
      }
    }
    return this.anyXattr;
  }

  /** The extended attributes FUSE shows, values decoded: the layer's (overlayfs's own never), then the opaque marker's. */
  xattrs(node: TocNode): ReadonlyMap<string, Buffer> {
    const layer = node.extra?.xattrs;
    const opaque = node instanceof TocDir && node.opaque;
    if (!layer && !opaque) return NO_XATTRS;
    const out = new Map<string, Buffer>();
    for (const [name, b64] of Object.entries(layer ?? {})) if (!isOverlayXattr(name)) out.set(name, Buffer.from(b64, 'base64'));
    if (opaque) for (const name of this.opaqueXattrs) out.set(name, OPAQUE_VALUE);
    return out;
  }
}

/** The FUSE view of a layer's TOC index; see InodeTableOptions. */
export function buildInodeTable(index: TocIndex, options: InodeTableOptions = {}): InodeTable {
  return new InodeTable(index, options);
}

/** st_size: content length (reg), target length (symlink), 4096 (dir), 0 otherwise. */
function statSize(node: TocNode): number {
  if (node instanceof TocFile) return node.size;
  if (node instanceof TocDir) return DIR_SIZE;
  return node.type === 'symlink' ? Buffer.byteLength(node.linkName) : 0;
}
