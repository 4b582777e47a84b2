// The FUSE kernel ABI (linux/fuse.h, protocol 7.x) as constants and little-endian Buffer encoders/decoders.
// Spec: https://github.com/torvalds/linux/blob/master/include/uapi/linux/fuse.h
// Every struct is padded to 8 bytes; u64 values travel as JS numbers (ids and sizes stay below 2^53).

/** Protocol version this server implements; the kernel and we agree on min(kernel minor, ours). */
export const FUSE_KERNEL_VERSION = 7;
export const FUSE_KERNEL_MINOR_VERSION = 38;
/** The node id of the root directory. */
export const FUSE_ROOT_ID = 1;
/** Page size assumed for max_pages (4 KiB on every Linux target of this tool). */
export const PAGE_SIZE = 4096;

/** Request opcodes (enum fuse_opcode). */
export const Opcode = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9, UNLINK: 10,
  RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17, RELEASE: 18, FSYNC: 20,
  SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28,
  RELEASEDIR: 29, FSYNCDIR: 30, GETLK: 31, SETLK: 32, SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36,
  BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40, NOTIFY_REPLY: 41, BATCH_FORGET: 42, FALLOCATE: 43,
  READDIRPLUS: 44, RENAME2: 45, LSEEK: 46, COPY_FILE_RANGE: 47, SETUPMAPPING: 48, REMOVEMAPPING: 49,
  SYNCFS: 50, TMPFILE: 51,
} as const;

/** INIT flags (fuse_init_in/out.flags; bits 32..63 travel in flags2). */
export const InitFlag = {
  ASYNC_READ: 1 << 0,
  BIG_WRITES: 1 << 5,
  DO_READDIRPLUS: 1 << 13,
  NO_OPEN_SUPPORT: 1 << 17,
  READDIRPLUS_AUTO: 1 << 14,
  PARALLEL_DIROPS: 1 << 18,
  ABORT_ERROR: 1 << 21,
  MAX_PAGES: 1 << 22,
  CACHE_SYMLINKS: 1 << 23,
  NO_OPENDIR_SUPPORT: 1 << 24,
  INIT_EXT: 1 << 30,
} as const;

/** fuse_open_out.open_flags. */
export const OpenFlag = { DIRECT_IO: 1 << 0, KEEP_CACHE: 1 << 1, CACHE_DIR: 1 << 3 } as const;

/** The unique-id bit the kernel sets on INTERRUPT requests (FUSE_INT_REQ_BIT). */
export const FUSE_INT_REQ_BIT = 1;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
export const OPEN_OUT_SIZE = 16;
export const INIT_OUT_SIZE = 64;
export const STATFS_OUT_SIZE = 80;
export const GETXATTR_OUT_SIZE = 8;
export const DIRENT_HEADER_SIZE = 24;

const TWO_32 = 0x1_0000_0000;

/** Read a little-endian u64 as a number (exact below 2^53). */
export function readU64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * TWO_32 + b.readUInt32LE(off);
}

/** Write a non-negative integer below 2^53 as a little-endian u64. */
export function writeU64(b: Buffer, off: number, n: number): void {
  b.writeUInt32LE(n >>> 0, off);
  b.writeUInt32LE(Math.floor(n / TWO_32) >>> 0, off + 4);
}

/** struct fuse_in_header. */
export interface InHeader {
  len: number;
  opcode: number;
  unique: number;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  totalExtlen: number;
}

/** Decode the 40-byte fuse_in_header at the start of a request. */
export function decodeInHeader(b: Buffer): InHeader {
  return {
    len: b.readUInt32LE(0),
    opcode: b.readUInt32LE(4),
    unique: readU64(b, 8),
    nodeid: readU64(b, 16),
    uid: b.readUInt32LE(24),
    gid: b.readUInt32LE(28),
    pid: b.readUInt32LE(32),
    totalExtlen: b.readUInt16LE(36),
  };
}

/** Encode a request header (tests and tools build requests with it). */
export function encodeInHeader(h: Omit<InHeader, 'totalExtlen'> & { totalExtlen?: number }): Buffer {
  const b = Buffer.alloc(IN_HEADER_SIZE);
  b.writeUInt32LE(h.len, 0);
  b.writeUInt32LE(h.opcode, 4);
  writeU64(b, 8, h.unique);
  writeU64(b, 16, h.nodeid);
  b.writeUInt32LE(h.uid, 24);
  b.writeUInt32LE(h.gid, 28);
  b.writeUInt32LE(h.pid, 32);
  b.writeUInt16LE(h.totalExtlen ?? 0, 36);
  return b;
}

/** struct fuse_out_header: `error` is 0 or a negative errno; `len` includes the header. */
export interface OutHeader {
  len: number;
  error: number;
  unique: number;
}

/** Write a fuse_out_header into the first 16 bytes of `b`. */
export function writeOutHeader(b: Buffer, h: OutHeader): void {
  b.writeUInt32LE(h.len, 0);
  b.writeInt32LE(h.error, 4);
  writeU64(b, 8, h.unique);
}

/** Decode a fuse_out_header (tests read replies with it). */
export function decodeOutHeader(b: Buffer): OutHeader {
  return { len: b.readUInt32LE(0), error: b.readInt32LE(4), unique: readU64(b, 8) };
}

/** A kernel timestamp: seconds plus nanoseconds. */
export interface Timespec {
  sec: number;
  nsec?: number;
}

/** struct fuse_attr, in the shape the encoder wants (see raw-filesystem.ts Attr for the public one). */
export interface WireAttr {
  ino: number;
  size: number;
  blocks: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

/** Encode struct fuse_attr (88 bytes) at `off`. */
export function writeAttr(b: Buffer, off: number, a: WireAttr): void {
  writeU64(b, off, a.ino);
  writeU64(b, off + 8, a.size);
  writeU64(b, off + 16, a.blocks);
  writeU64(b, off + 24, Math.max(0, a.atime.sec));
  writeU64(b, off + 32, Math.max(0, a.mtime.sec));
  writeU64(b, off + 40, Math.max(0, a.ctime.sec));
  b.writeUInt32LE(a.atime.nsec ?? 0, off + 48);
  b.writeUInt32LE(a.mtime.nsec ?? 0, off + 52);
  b.writeUInt32LE(a.ctime.nsec ?? 0, off + 56);
  b.writeUInt32LE(a.mode >>> 0, off + 60);
  b.writeUInt32LE(a.nlink >>> 0, off + 64);
  b.writeUInt32LE(a.uid >>> 0, off + 68);
  b.writeUInt32LE(a.gid >>> 0, off + 72);
  b.writeUInt32LE(a.rdev >>> 0, off + 76);
  b.writeUInt32LE(a.blksize >>> 0, off + 80);
  b.writeUInt32LE(0, off + 84); // flags
}

/** Decode struct fuse_attr (tests). */
export function readAttr(b: Buffer, off: number): WireAttr {
  return {
    ino: readU64(b, off),
    size: readU64(b, off + 8),
    blocks: readU64(b, off + 16),
    atime: { sec: readU64(b, off + 24), nsec: b.readUInt32LE(off + 48) },
    mtime: { sec: readU64(b, off + 32), nsec: b.readUInt32LE(off + 52) },
    ctime: { sec: readU64(b, off + 40), nsec: b.readUInt32LE(off + 56) },
    mode: b.readUInt32LE(off + 60),
    nlink: b.readUInt32LE(off + 64),
    uid: b.readUInt32LE(off + 68),
    gid: b.readUInt32LE(off + 72),
    rdev: b.readUInt32LE(off + 76),
    blksize: b.readUInt32LE(off + 80),
  };
}

/** Split a cache timeout in milliseconds into the (seconds, nanoseconds) pair the kernel wants. */
export function splitTimeout(ms: number): { sec: number; nsec: number } {
  const clamped = Math.max(0, ms);
  const sec = Math.floor(clamped / 1000);
  return { sec, nsec: Math.round((clamped - sec * 1000) * 1e6) };
}

/** struct fuse_entry_out fields. */
export interface WireEntry {
  nodeid: number;
  generation: number;
  entryValidMs: number;
  attrValidMs: number;
  attr: WireAttr;
}

/** Encode struct fuse_entry_out (128 bytes) at `off`. */
export function writeEntryOut(b: Buffer, off: number, e: WireEntry): void {
  const ev = splitTimeout(e.entryValidMs);
  const av = splitTimeout(e.attrValidMs);
  writeU64(b, off, e.nodeid);
  writeU64(b, off + 8, e.generation);
  writeU64(b, off + 16, ev.sec);
  writeU64(b, off + 24, av.sec);
  b.writeUInt32LE(ev.nsec, off + 32);
  b.writeUInt32LE(av.nsec, off + 36);
  writeAttr(b, off + 40, e.attr);
}

/** Encode struct fuse_attr_out (104 bytes). */
export function encodeAttrOut(attrValidMs: number, attr: WireAttr): Buffer {
  const b = Buffer.alloc(ATTR_OUT_SIZE);
  const v = splitTimeout(attrValidMs);
  writeU64(b, 0, v.sec);
  b.writeUInt32LE(v.nsec, 8);
  writeAttr(b, 16, attr);
  return b;
}

/** Encode struct fuse_open_out. */
export function encodeOpenOut(fh: number, openFlags: number): Buffer {
  const b = Buffer.alloc(OPEN_OUT_SIZE);
  writeU64(b, 0, fh);
  b.writeUInt32LE(openFlags >>> 0, 8);
  return b;
}

/** struct fuse_init_in. `flags2` is 0 unless the kernel set INIT_EXT. */
export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  flags2: number;
}

/** Decode struct fuse_init_in (older kernels send only the first 16 bytes). */
export function decodeInitIn(b: Buffer): InitIn {
  const flags = b.length >= 16 ? b.readUInt32LE(12) : 0;
  return {
    major: b.readUInt32LE(0),
    minor: b.readUInt32LE(4),
    maxReadahead: b.length >= 12 ? b.readUInt32LE(8) : 0,
    flags,
    flags2: b.length >= 20 && (flags & InitFlag.INIT_EXT) !== 0 ? b.readUInt32LE(16) : 0,
  };
}

/** struct fuse_init_out. */
export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  flags2: number;
}

/** Encode struct fuse_init_out (64 bytes). */
export function encodeInitOut(o: InitOut): Buffer {
  const b = Buffer.alloc(INIT_OUT_SIZE);
  b.writeUInt32LE(o.major, 0);
  b.writeUInt32LE(o.minor, 4);
  b.writeUInt32LE(o.maxReadahead, 8);
  b.writeUInt32LE(o.flags >>> 0, 12);
  b.writeUInt16LE(o.maxBackground, 16);
  b.writeUInt16LE(o.congestionThreshold, 18);
  b.writeUInt32LE(o.maxWrite, 20);
  b.writeUInt32LE(o.timeGran, 24);
  b.writeUInt16LE(o.maxPages, 28);
  b.writeUInt16LE(0, 30); // map_alignment
  b.writeUInt32LE(o.flags2 >>> 0, 32);
  return b;
}

/** Decode struct fuse_init_out (tests). */
export function decodeInitOut(b: Buffer): InitOut {
  return {
    major: b.readUInt32LE(0),
    minor: b.readUInt32LE(4),
    maxReadahead: b.readUInt32LE(8),
    flags: b.readUInt32LE(12),
    maxBackground: b.readUInt16LE(16),
    congestionThreshold: b.readUInt16LE(18),
    maxWrite: b.readUInt32LE(20),
    timeGran: b.readUInt32LE(24),
    maxPages: b.readUInt16LE(28),
    flags2: b.readUInt32LE(32),
  };
}

/** struct fuse_read_in (the fields a read-only server needs). */
export interface ReadIn {
  fh: number;
  offset: number;
  size: number;
  flags: number;
}

/** Decode struct fuse_read_in (40 bytes; also READDIR/READDIRPLUS). */
export function decodeReadIn(b: Buffer): ReadIn {
  return { fh: readU64(b, 0), offset: readU64(b, 8), size: b.readUInt32LE(16), flags: b.length >= 36 ? b.readUInt32LE(32) : 0 };
}

/** Encode struct fuse_read_in (tests). */
export function encodeReadIn(r: ReadIn): Buffer {
  const b = Buffer.alloc(40);
  writeU64(b, 0, r.fh);
  writeU64(b, 8, r.offset);
  b.writeUInt32LE(r.size, 16);
  b.writeUInt32LE(r.flags, 32);
  return b;
}

/** Decode struct fuse_open_in: the open(2) flags. */
export function decodeOpenIn(b: Buffer): { flags: number } {
  return { flags: b.readUInt32LE(0) };
}

/** Decode struct fuse_release_in: the handle being released. */
export function decodeReleaseIn(b: Buffer): { fh: number; flags: number } {
  return { fh: readU64(b, 0), flags: b.readUInt32LE(8) };
}

/** Decode struct fuse_getattr_in: `fh` is meaningful when flags has FUSE_GETATTR_FH (1). */
export function decodeGetattrIn(b: Buffer): { flags: number; fh: number } {
  return b.length >= 16 ? { flags: b.readUInt32LE(0), fh: readU64(b, 8) } : { flags: 0, fh: 0 };
}

/** Decode struct fuse_forget_in: how many lookups the kernel drops. */
export function decodeForgetIn(b: Buffer): { nlookup: number } {
  return { nlookup: readU64(b, 0) };
}

/** Decode struct fuse_batch_forget_in followed by `count` fuse_forget_one records. */
export function decodeBatchForget(b: Buffer): { nodeid: number; nlookup: number }[] {
  const count = b.readUInt32LE(0);
  const out: { nodeid: number; nlookup: number }[] = [];
  for (let i = 0; i < count && 8 + i * 16 + 16 <= b.length; i++) {
    out.push({ nodeid: readU64(b, 8 + i * 16), nlookup: readU64(b, 16 + i * 16) });
  }
  return out;
}

/** Decode struct fuse_getxattr_in (GETXATTR and LISTXATTR): the caller's buffer size, 0 for a size probe. */
export function decodeGetxattrIn(b: Buffer): { size: number } {
  return { size: b.readUInt32LE(0) };
}

/** Encode struct fuse_getxattr_out: the size a size-0 probe asked for. */
export function encodeGetxattrOut(size: number): Buffer {
  const b = Buffer.alloc(GETXATTR_OUT_SIZE);
  b.writeUInt32LE(size, 0);
  return b;
}

/** Decode struct fuse_interrupt_in: the unique id of the request to interrupt. */
export function decodeInterruptIn(b: Buffer): { unique: number } {
  return { unique: readU64(b, 0) };
}

/** Decode struct fuse_access_in: the access(2) mask (R_OK 4, W_OK 2, X_OK 1, F_OK 0). */
export function decodeAccessIn(b: Buffer): { mask: number } {
  return { mask: b.readUInt32LE(0) };
}

/** struct fuse_kstatfs. */
export interface WireStatfs {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** Encode struct fuse_statfs_out (80 bytes). */
export function encodeStatfsOut(s: WireStatfs): Buffer {
  const b = Buffer.alloc(STATFS_OUT_SIZE);
  writeU64(b, 0, s.blocks);
  writeU64(b, 8, s.bfree);
  writeU64(b, 16, s.bavail);
  writeU64(b, 24, s.files);
  writeU64(b, 32, s.ffree);
  b.writeUInt32LE(s.bsize, 40);
  b.writeUInt32LE(s.namelen, 44);
  b.writeUInt32LE(s.frsize, 48);
  return b;
}

/** Round up to the 8-byte record alignment of dirents (FUSE_REC_ALIGN). */
export function recAlign(n: number): number {
  return (n + 7) & ~7;
}

/** Size of one fuse_dirent record for a name of `nameLen` bytes. */
export function direntSize(nameLen: number): number {
  return recAlign(DIRENT_HEADER_SIZE + nameLen);
}

/** Size of one fuse_direntplus record for a name of `nameLen` bytes. */
export function direntplusSize(nameLen: number): number {
  return recAlign(ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE + nameLen);
}

/** Encode struct fuse_dirent (+ name, zero padded) at `off`; `type` is the DT_* value (mode >> 12). */
export function writeDirent(b: Buffer, off: number, ino: number, nextOff: number, type: number, name: Buffer): void {
  writeU64(b, off, ino);
  writeU64(b, off + 8, nextOff);
  b.writeUInt32LE(name.length, off + 16);
  b.writeUInt32LE(type, off + 20);
  name.copy(b, off + DIRENT_HEADER_SIZE);
}

/** Linux dev_t as the kernel decodes fuse_attr.rdev (new_encode_dev). */
export function makeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
