// The contract between the FUSE protocol handler and a read-only filesystem implementation (src/fs/ builds
// one from an eStargz TOC; test/fuse/memory-fs.ts is an in-memory one). One async method per opcode, taking
// decoded arguments and a RequestContext, returning typed results. Errors: throw FuseErrno(errno), or a
// CtrError (NotFound→ENOENT, DigestMismatch/Unavailable→EIO, ...; see errno.ts). Anything else is a bug:
// it is logged and answered with EIO, and the mount keeps serving.
//
// Inode numbers are the node ids the kernel uses: the root is FUSE_ROOT_ID (1); each inode keeps one
// number for the mount's lifetime (hard links share it). Numbers must stay below 2^53.

import type { Timespec } from './abi.js';

export type { Timespec } from './abi.js';

/** Who asked, and a signal aborted when the kernel interrupts the request (the caller got a signal). */
export interface RequestContext {
  uid: number;
  gid: number;
  pid: number;
  signal: AbortSignal;
}

/** Inode attributes. `mode` includes the file type bits (S_IFREG 0o100000, S_IFDIR 0o040000, ...). */
export interface Attr {
  ino: number;
  mode: number;
  /** Link count; default 1 (2 for directories is conventional but not required). */
  nlink?: number;
  uid: number;
  gid: number;
  /** Bytes; 0 for directories and devices, the target length for symlinks. */
  size: number;
  mtime: Timespec;
  /** Default: mtime. */
  atime?: Timespec;
  /** Default: mtime. */
  ctime?: Timespec;
  /** Device numbers of character/block devices (a 0/0 char device is an overlayfs whiteout). */
  rdev?: { major: number; minor: number };
  /** 512-byte blocks allocated; default ceil(size / 512). */
  blocks?: number;
  /** Preferred I/O size; default 4096. */
  blksize?: number;
}

/** A looked-up name: its attributes plus how long the kernel may cache name and attributes. */
export interface Entry {
  attr: Attr;
  /** Name→inode cache timeout; default the mount's entryTimeoutMs. */
  entryTimeoutMs?: number;
  /** Attribute cache timeout; default the mount's attrTimeoutMs. */
  attrTimeoutMs?: number;
  /** Inode generation (ino, generation) must be unique for the mount's life; default 0. */
  generation?: number;
}

/** GETATTR result. */
export interface AttrReply {
  attr: Attr;
  /** Default the mount's attrTimeoutMs. */
  attrTimeoutMs?: number;
}

/** OPEN/OPENDIR result. */
export interface OpenReply {
  /** An opaque handle passed back to read/release; default 0. */
  fh?: number;
  /** Keep the page cache of the file across opens (FOPEN_KEEP_CACHE): right for immutable content. */
  keepCache?: boolean;
  /** Bypass the page cache (FOPEN_DIRECT_IO). */
  directIo?: boolean;
  /** Directories only: let the kernel cache the listing (FOPEN_CACHE_DIR). */
  cacheDir?: boolean;
}

/** One directory entry. "." and ".." are added by the protocol handler; do not return them. */
export interface DirEntry {
  name: string;
  ino: number;
  /** File type bits (mode & 0o170000 is enough). */
  mode: number;
  /**
   * Full attributes for READDIRPLUS. When absent, the handler calls lookup(dir, name) for the entry.
   * Either way every entry returned by READDIRPLUS counts as one lookup (a later forget balances it).
   */
  entry?: Entry;
}

/** STATFS result; every field defaults to 0 except bsize/frsize (4096) and namelen (255). */
export interface StatFs {
  blocks?: number;
  bfree?: number;
  bavail?: number;
  files?: number;
  ffree?: number;
  bsize?: number;
  namelen?: number;
  frsize?: number;
}

/** What the kernel offered at INIT, for information. */
export interface InitInfo {
  major: number;
  minor: number;
  maxReadahead: number;
  /** The negotiated maximum READ size in bytes. */
  maxRead: number;
}

/** A read-only filesystem served over FUSE. Optional methods have the documented default behaviour. */
export interface RawFileSystem {
  /**
   * False when no inode has an extended attribute: GETXATTR and LISTXATTR are then answered ENOSYS, and the
   * kernel sends neither again on this mount (getxattr(2) and listxattr(2) get EOPNOTSUPP there, as on a
   * filesystem without xattrs). Default: the filesystem may have some.
   */
  hasXattrs?(): boolean;
  /** Called once when the kernel connects. */
  init?(info: InitInfo): void | Promise<void>;
  /** Resolve `name` in directory `parent`; throw ENOENT (FuseErrno or CtrError NotFound) if absent. */
  lookup(parent: number, name: string, ctx: RequestContext): Promise<Entry>;
  /** The kernel dropped `nlookup` references to `ino` (no reply). Default: nothing. */
  forget?(ino: number, nlookup: number): void;
  /** Attributes of an inode (`fh` is set when the kernel asks through an open file). */
  getattr(ino: number, ctx: RequestContext, fh?: number): Promise<AttrReply>;
  /** Target of a symlink. */
  readlink(ino: number, ctx: RequestContext): Promise<string | Uint8Array>;
  /** Open a file for reading (`flags` are the open(2) flags; write access never reaches here). Default: fh 0, keep cache. */
  open?(ino: number, flags: number, ctx: RequestContext): Promise<OpenReply>;
  /** Read up to `size` bytes at `offset`; fewer only at end of file. Honour ctx.signal for slow fetches. */
  read(ino: number, fh: number, offset: number, size: number, ctx: RequestContext): Promise<Uint8Array>;
  /** A file handle was closed. Default: nothing. */
  release?(ino: number, fh: number): void | Promise<void>;
  /** Open a directory. Default: fh 0. */
  opendir?(ino: number, flags: number, ctx: RequestContext): Promise<OpenReply>;
  /** All entries of a directory except "." and ".."; called once per open directory handle and cached by the handler. */
  readdir(ino: number, fh: number, ctx: RequestContext): Promise<DirEntry[]>;
  /** A directory handle was closed. Default: nothing. */
  releasedir?(ino: number, fh: number): void | Promise<void>;
  /** Filesystem statistics. Default: zeros, bsize 4096, namelen 255. */
  statfs?(ino: number, ctx: RequestContext): Promise<StatFs>;
  /** Value of one extended attribute; throw ENODATA when absent. Default: ENODATA for all. */
  getxattr?(ino: number, name: string, ctx: RequestContext): Promise<Uint8Array>;
  /** Names of all extended attributes. Default: none. */
  listxattr?(ino: number, ctx: RequestContext): Promise<string[]>;
  /** access(2) check (only sent without default_permissions). Default: allowed. */
  access?(ino: number, mask: number, ctx: RequestContext): Promise<void>;
  /** The kernel is disconnecting. */
  destroy?(): void | Promise<void>;
}
