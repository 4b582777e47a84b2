// The read-only filesystem of one eStargz layer, served over FUSE: metadata from the inode table built from
// the TOC, file contents from a ChunkSource (the lazy layer). Immutable, so the kernel may cache pages
// across opens (keep-cache) and directory listings (cache-dir).

import { Errno, FuseErrno, errnoOf } from '../fuse/errno.js';
import type { AttrReply, DirEntry, Entry, OpenReply, RawFileSystem, RequestContext, StatFs } from '../fuse/raw-filesystem.js';
import { AccessRecorder } from './access-recorder.js';
import { TocDir, TocFile, type TocNode } from '../estargz/toc-node.js';
import type { ChunkSource } from '../estargz/chunk-source.js';
import type { InodeTable } from './inode-table.js';

/** access(2) mask bit asking for write permission. */
const W_OK = 2;

/** Options of TocFileSystem. */
export interface TocFileSystemOptions {
  /** Called with a file's path (no leading "/") the first time it is opened (optimize's recorder). Default none. */
  onAccess?: (path: string) => void;
  /** Name and attribute cache timeout handed to the kernel. Default: the mount's own timeouts. */
  cacheTimeoutMs?: number;
}

/** A RawFileSystem over one layer's inode table and chunk source. */
export class TocFileSystem implements RawFileSystem {
  private readonly recorder: AccessRecorder | undefined;
  private fsStats: StatFs | undefined;

  constructor(
    private readonly table: InodeTable,
    private readonly source: ChunkSource,
    private readonly options: TocFileSystemOptions = {},
  ) {
    this.recorder = options.onAccess ? new AccessRecorder(options.onAccess) : undefined;
  }

  async lookup(parent: number, name: string, _ctx?: RequestContext): Promise<Entry> {
    const child = this.table.lookup(this.dir(parent), name);
    if (!child) throw new FuseErrno(Errno.ENOENT);
    return this.entryOf(child);
  }

  async getattr(ino: number, _ctx?: RequestContext): Promise<AttrReply> {
    const reply: AttrReply = { attr: this.table.attr(this.inode(ino)) };
    if (this.options.cacheTimeoutMs !== undefined) reply.attrTimeoutMs = this.options.cacheTimeoutMs;
    return reply;
  }

  async readlink(ino: number, _ctx?: RequestContext): Promise<string> {
    const node = this.inode(ino);
    if (node.type !== 'symlink') throw new FuseErrno(Errno.EINVAL);
    return node.linkName;
  }

  async open(ino: number, _flags?: number, _ctx?: RequestContext): Promise<OpenReply> {
    const node = this.inode(ino);
    if (node instanceof TocDir) throw new FuseErrno(Errno.EISDIR);
    if (node instanceof TocFile) this.recorder?.record(node.id, () => node.path);
    return { keepCache: true };
  }

  async read(ino: number, _fh: number, offset: number, size: number, ctx: RequestContext): Promise<Uint8Array> {
    const node = this.inode(ino);
    if (node instanceof TocDir) throw new FuseErrno(Errno.EISDIR);
    if (!(node instanceof TocFile)) throw new FuseErrno(Errno.EINVAL);
    try {
      return await this.source.readFileRange(node, offset, size, () => ctx.signal);
    } catch (e) {
      if (!errnoOf(e).expected) throw e; // a bug: the protocol answers EIO and reports it
      throw readError(e);
    }
  }

  async opendir(ino: number, _flags?: number, _ctx?: RequestContext): Promise<OpenReply> {
    this.dir(ino);
    return { cacheDir: true, keepCache: true };
  }

  async readdir(ino: number, _fh?: number, _ctx?: RequestContext): Promise<DirEntry[]> {
    const children = this.table.list(this.dir(ino)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return children.map(([name, node]) => {
      const entry = this.entryOf(node);
      return { name, ino: entry.attr.ino, mode: entry.attr.mode, entry };
    });
  }

  async statfs(_ino?: number, _ctx?: RequestContext): Promise<StatFs> {
    this.fsStats ??= fsStatsOf(this.table);
    return this.fsStats;
  }

  /** No xattr anywhere in the layer (most layers): FUSE then tells the kernel to stop asking (ops-xattr.ts). */
  hasXattrs(): boolean {
    return this.table.hasXattrs();
  }

  async getxattr(ino: number, name: string, _ctx?: RequestContext): Promise<Uint8Array> {
    const value = this.table.xattrs(this.inode(ino)).get(name);
    if (!value) throw new FuseErrno(Errno.ENODATA);
    return value;
  }

  async listxattr(ino: number, _ctx?: RequestContext): Promise<string[]> {
    return [...this.table.xattrs(this.inode(ino)).keys()];
  }

  async access(ino: number, mask: number, _ctx?: RequestContext): Promise<void> {
    this.inode(ino);
    if (mask & W_OK) throw new FuseErrno(Errno.EROFS);
  }

  private inode(ino: number): TocNode {
    const node = this.table.get(ino);
    if (!node) throw new FuseErrno(Errno.ENOENT, `no inode ${ino}`);
    return node;
  }

  private dir(ino: number): TocDir {
    const node = this.inode(ino);
    if (!(node instanceof TocDir)) throw new FuseErrno(Errno.ENOTDIR);
    return node;
  }

  private entryOf(node: TocNode): Entry {
    const entry: Entry = { attr: this.table.attr(node) };
    if (this.options.cacheTimeoutMs !== undefined) {
      entry.entryTimeoutMs = this.options.cacheTimeoutMs;
      entry.attrTimeoutMs = this.options.cacheTimeoutMs;
    }
    return entry;
  }
}

/**
 * The errno of a failed READ: EINTR when the request was interrupted, else EIO, whatever the cause (a
 * registry error, a digest mismatch, a chunk the TOC gives no digest for, a corrupt TOC): the reader gets
 * an I/O error, never unverified bytes. The error itself is recorded by the layer (image status).
 */
function readError(e: unknown): FuseErrno {
  const errno = errnoOf(e).errno === Errno.EINTR ? Errno.EINTR : Errno.EIO;
  return new FuseErrno(errno, e instanceof Error ? e.message : String(e));
}

/** statfs of an immutable layer: its regular files' bytes in 4 KiB blocks, nothing free. */
function fsStatsOf(table: InodeTable): StatFs {
  let bytes = 0;
  for (const node of table.inodes()) bytes += node instanceof TocFile ? node.size : 0;
  return { blocks: Math.ceil(bytes / 4096), bfree: 0, bavail: 0, files: table.size, ffree: 0, bsize: 4096, frsize: 4096, namelen: 255 };
}
