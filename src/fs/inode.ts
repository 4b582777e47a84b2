// One node of a layer's read-only filesystem, as built from the TOC by inode-table.ts. Attributes are
// already in the shape FUSE and stat(2) use: mode with S_IFMT bits, mtime in seconds.

import type { TOCEntry } from '../estargz/toc-types.js';

/** File type bits (S_IFMT) of stat(2), see inode(7). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** The inode number FUSE reserves for the root directory (FUSE_ROOT_ID). */
export const ROOT_INO = 1;

export type InodeKind = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';

/** A file, directory, link or device of one layer. Hardlinked names share one Inode. */
export interface Inode {
  readonly ino: number;
  readonly kind: InodeKind;
  /** S_IFMT type bits | permission and special bits (07777). */
  mode: number;
  uid: number;
  gid: number;
  /** Modification time, seconds since the epoch (TOC modtimes have seconds precision). */
  mtime: number;
  /** st_size: content length (reg), target length (symlink), 4096 (dir), 0 otherwise. */
  size: number;
  /** Device numbers (char/block; 0/0 otherwise and for whiteouts). */
  rdev: { major: number; minor: number };
  /** Hard link count: names for non-dirs, 2 + subdirectories for dirs. */
  nlink: number;
  /** Symlink target. */
  linkName?: string;
  /** Extended attributes, values decoded from the TOC's base64. */
  xattrs: Map<string, Buffer>;
  /** Directory entries by name (dirs only). Whiteouts appear as char devices; landmarks are absent. */
  children?: Map<string, Inode>;
  /** Parent directory (the root is its own parent; for hardlinks, the parent of the first name). */
  parent: Inode;
  /** Canonical path without leading "/" ("" for the root); for hardlinks, the first name in the TOC. */
  path: string;
  /** The TOC entry that holds the payload (reg only): what a ChunkSource reads. */
  entry?: TOCEntry;
}

/** S_IFMT bits for an inode kind. */
export function typeBits(kind: InodeKind): number {
  switch (kind) {
    case 'dir':
      return S_IFDIR;
    case 'reg':
      return S_IFREG;
    case 'symlink':
      return S_IFLNK;
    case 'char':
      return S_IFCHR;
    case 'block':
      return S_IFBLK;
    case 'fifo':
      return S_IFIFO;
  }
}
