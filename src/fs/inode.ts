// File types of a layer's read-only filesystem as stat(2) shows them (inode-table.ts maps the TOC index's
// nodes to them) and the root's inode number.

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

/** The file types a layer's inode may have. */
export type InodeKind = 'dir' | 'reg' | 'symlink' | 'char' | 'block' | 'fifo';

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
