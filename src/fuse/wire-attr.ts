// Conversion from the filesystem's Attr/Entry (raw-filesystem.ts) to the kernel structs (abi.ts).

import { ENTRY_OUT_SIZE, makeDev, writeEntryOut, type WireAttr } from './abi.js';
import type { Attr, Entry } from './raw-filesystem.js';

/** Fill defaults (nlink 1, blocks from size, atime/ctime = mtime, blksize 4096) and encode rdev. */
export function toWireAttr(a: Attr): WireAttr {
  return {
    ino: a.ino,
    size: a.size,
    blocks: a.blocks ?? Math.ceil(a.size / 512),
    atime: a.atime ?? a.mtime,
    mtime: a.mtime,
    ctime: a.ctime ?? a.mtime,
    mode: a.mode,
    nlink: a.nlink ?? 1,
    uid: a.uid,
    gid: a.gid,
    rdev: a.rdev ? makeDev(a.rdev.major, a.rdev.minor) : 0,
    blksize: a.blksize ?? 4096,
  };
}

/** Default cache timeouts applied when an Entry does not carry its own. */
export interface Timeouts {
  entryTimeoutMs: number;
  attrTimeoutMs: number;
}

/** Encode a fuse_entry_out for an Entry at `off` of `b`. */
export function writeEntry(b: Buffer, off: number, e: Entry, t: Timeouts): void {
  writeEntryOut(b, off, {
    nodeid: e.attr.ino,
    generation: e.generation ?? 0,
    entryValidMs: e.entryTimeoutMs ?? t.entryTimeoutMs,
    attrValidMs: e.attrTimeoutMs ?? t.attrTimeoutMs,
    attr: toWireAttr(e.attr),
  });
}

/** A fuse_entry_out Buffer for an Entry. */
export function encodeEntry(e: Entry, t: Timeouts): Buffer {
  const b = Buffer.alloc(ENTRY_OUT_SIZE);
  writeEntry(b, 0, e, t);
  return b;
}

/** A negative entry (node id 0) the kernel caches for `ms` instead of asking again. */
export function encodeNegativeEntry(ms: number): Buffer {
  const b = Buffer.alloc(ENTRY_OUT_SIZE);
  writeEntryOut(b, 0, {
    nodeid: 0, generation: 0, entryValidMs: ms, attrValidMs: 0,
    attr: { ino: 0, size: 0, blocks: 0, atime: { sec: 0 }, mtime: { sec: 0 }, ctime: { sec: 0 }, mode: 0, nlink: 0, uid: 0, gid: 0, rdev: 0, blksize: 0 },
  });
  return b;
}

/** S_IFDIR test on a mode. */
export function isDirMode(mode: number): boolean {
  return (mode & 0o170000) === 0o040000;
}

/** The DT_* type a dirent carries for a mode (the file type bits shifted down). */
export function direntType(mode: number): number {
  return (mode >>> 12) & 0xf;
}
