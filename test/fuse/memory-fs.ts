// An in-memory RawFileSystem for the FUSE tests: directories, files (literal bytes or a large generated
// pattern), symlinks, hard links, fifos, devices and xattrs, built with a small path-based API.

import { FuseErrno, Errno } from '../../src/fuse/errno.js';
import type { AttrReply, DirEntry, Entry, RawFileSystem, RequestContext } from '../../src/fuse/raw-filesystem.js';

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;

/** Period of the generated pattern (a prime, so that page-aligned reads see shifting bytes). */
export const PATTERN_PERIOD = 65521;
const PATTERN = Buffer.alloc(PATTERN_PERIOD + (1 << 20));
for (let i = 0; i < PATTERN.length; i++) PATTERN[i] = ((i % PATTERN_PERIOD) * 131 + ((i % PATTERN_PERIOD) >> 9)) & 0xff;

/** The bytes of a pattern file at [offset, offset+length) (length at most 1 MiB). */
export function patternSlice(offset: number, length: number): Buffer {
  const start = offset % PATTERN_PERIOD;
  return PATTERN.subarray(start, start + length);
}

/** One inode of the memory filesystem. */
interface Node {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  children?: Map<string, number>;
  data?: Buffer;
  patternSize?: number;
  target?: string;
  rdev?: { major: number; minor: number };
  xattrs: Map<string, Buffer>;
}

/** Options for new nodes. */
export interface NodeOptions {
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
}

/** In-memory filesystem; paths are relative to the root ("a/b/c"). */
export class MemoryFs implements RawFileSystem {
  private readonly nodes = new Map<number, Node>();
  private nextIno = 2;
  /** Called before each read; throw from it to inject a failure. */
  onRead?: (path: string, offset: number, size: number) => void;
  /** Optional FORGET hook (tests observe lookup counts with it). */
  forget?: (ino: number, nlookup: number) => void;
  /** Number of read() calls served. */
  reads = 0;
  private readonly paths = new Map<number, string>();

  constructor() {
    this.nodes.set(1, { ino: 1, mode: S_IFDIR | 0o755, uid: 0, gid: 0, nlink: 2, mtime: 1_700_000_000, children: new Map(), xattrs: new Map() });
    this.paths.set(1, '');
  }

  /** Create a directory (parents must exist). */
  mkdir(path: string, o: NodeOptions = {}): this {
    this.add(path, { mode: S_IFDIR | (o.mode ?? 0o755), children: new Map(), nlink: 2 }, o);
    return this;
  }

  /** Create a regular file with literal content. */
  file(path: string, content: string | Buffer, o: NodeOptions = {}): this {
    this.add(path, { mode: S_IFREG | (o.mode ?? 0o644), data: Buffer.from(content) }, o);
    return this;
  }

  /** Create a regular file of `size` bytes of the generated pattern (see patternSlice). */
  patternFile(path: string, size: number, o: NodeOptions = {}): this {
    this.add(path, { mode: S_IFREG | (o.mode ?? 0o644), patternSize: size }, o);
    return this;
  }

  /** Create a symlink. */
  symlink(path: string, target: string, o: NodeOptions = {}): this {
    this.add(path, { mode: S_IFLNK | 0o777, target }, o);
    return this;
  }

  /** Add a hard link `path` to the inode at `existing`. */
  link(path: string, existing: string): this {
    const node = this.resolve(existing);
    const { dir, name } = this.parentOf(path);
    dir.children!.set(name, node.ino);
    node.nlink++;
    return this;
  }

  /** Create a fifo. */
  fifo(path: string, o: NodeOptions = {}): this {
    this.add(path, { mode: S_IFIFO | (o.mode ?? 0o644) }, o);
    return this;
  }

  /** Create a character device (0/0 is an overlayfs whiteout). */
  chardev(path: string, major: number, minor: number, o: NodeOptions = {}): this {
    this.add(path, { mode: S_IFCHR | (o.mode ?? 0o644), rdev: { major, minor } }, o);
    return this;
  }

  /** Set an extended attribute ('' is the root). */
  xattr(path: string, name: string, value: string | Buffer): this {
    this.resolve(path).xattrs.set(name, Buffer.from(value));
    return this;
  }

  private add(path: string, fields: Partial<Node>, o: NodeOptions): Node {
    const { dir, name } = this.parentOf(path);
    const node: Node = {
      ino: this.nextIno++, mode: 0, uid: o.uid ?? 0, gid: o.gid ?? 0, nlink: 1, mtime: o.mtime ?? 1_700_000_000,
      xattrs: new Map(), ...fields,
    };
    this.nodes.set(node.ino, node);
    this.paths.set(node.ino, path);
    dir.children!.set(name, node.ino);
    return node;
  }

  private parentOf(path: string): { dir: Node; name: string } {
    const i = path.lastIndexOf('/');
    const dir = this.resolve(i < 0 ? '' : path.slice(0, i));
    if (!dir.children) throw new Error(`${path}: parent is not a directory`);
    return { dir, name: path.slice(i + 1) };
  }

  private resolve(path: string): Node {
    let node = this.nodes.get(1)!;
    for (const part of path.split('/').filter(Boolean)) {
      const ino = node.children?.get(part);
      if (ino === undefined) throw new Error(`${path}: no such node`);
      node = this.nodes.get(ino)!;
    }
    return node;
  }

  private node(ino: number): Node {
    const n = this.nodes.get(ino);
    if (!n) throw new FuseErrno(Errno.ENOENT);
    return n;
  }

  private size(n: Node): number {
    return n.data?.length ?? n.patternSize ?? (n.target !== undefined ? Buffer.byteLength(n.target) : 0);
  }

  private entry(n: Node): Entry {
    return {
      attr: { ino: n.ino, mode: n.mode, nlink: n.nlink, uid: n.uid, gid: n.gid, size: this.size(n), mtime: { sec: n.mtime, nsec: 5 }, rdev: n.rdev },
      entryTimeoutMs: 1000,
      attrTimeoutMs: 1000,
    };
  }

  async lookup(parent: number, name: string): Promise<Entry> {
    const ino = this.node(parent).children?.get(name);
    if (ino === undefined) throw new FuseErrno(Errno.ENOENT);
    return this.entry(this.node(ino));
  }

  async getattr(ino: number): Promise<AttrReply> {
    return this.entry(this.node(ino));
  }

  async readlink(ino: number): Promise<string> {
    const t = this.node(ino).target;
    if (t === undefined) throw new FuseErrno(Errno.EINVAL);
    return t;
  }

  async read(ino: number, _fh: number, offset: number, size: number, _ctx: RequestContext): Promise<Uint8Array> {
    const n = this.node(ino);
    this.reads++;
    this.onRead?.(this.paths.get(ino) ?? '?', offset, size);
    if (n.data) return n.data.subarray(offset, offset + size);
    const total = n.patternSize ?? 0;
    const len = Math.max(0, Math.min(size, total - offset));
    return patternSlice(offset, len);
  }

  async readdir(ino: number): Promise<DirEntry[]> {
    const n = this.node(ino);
    if (!n.children) throw new FuseErrno(Errno.ENOTDIR);
    return [...n.children].map(([name, child]) => ({ name, ino: child, mode: this.node(child).mode }));
  }

  async getxattr(ino: number, name: string): Promise<Uint8Array> {
    const v = this.node(ino).xattrs.get(name);
    if (!v) throw new FuseErrno(Errno.ENODATA);
    return v;
  }

  async listxattr(ino: number): Promise<string[]> {
    return [...this.node(ino).xattrs.keys()];
  }
}
