// Open directory handles of one connection. A handle snapshots the directory listing at its first READDIR so
// that the kernel's offsets (entry indexes) stay stable across calls, and the parent of every directory seen
// by LOOKUP is remembered so ".." carries the right inode number.

import { FUSE_ROOT_ID } from './abi.js';
import { Errno, FuseErrno } from './errno.js';
import type { DirEntry } from './raw-filesystem.js';

/** Shared per-inode handles kept for zero-message opendir. */
const SHARED_HANDLES = 256;

/** One open directory. */
export interface DirHandle {
  ino: number;
  /** The handle the filesystem's opendir returned. */
  fsFh: number;
  /** The listing, fetched once per handle (includes "." and ".."). */
  listing?: Promise<DirEntry[]>;
}

/** Handle table and parent map of open directories. */
export class DirHandles {
  private nextId = 1;
  private readonly handles = new Map<number, DirHandle>();
  private readonly parents = new Map<number, number>();
  /** Shared handles per directory inode for zero-message opendir, least recently used first. */
  private readonly byInode = new Map<number, DirHandle>();

  /** Register an open directory; returns the handle id given to the kernel. */
  open(ino: number, fsFh: number): number {
    const id = this.nextId++;
    this.handles.set(id, { ino, fsFh });
    return id;
  }

  /** The handle for an id; EBADF when unknown. */
  get(id: number): DirHandle {
    const h = this.handles.get(id);
    if (!h) throw new FuseErrno(Errno.EBADF, `unknown directory handle ${id}`);
    return h;
  }

  /** The shared handle of directory `ino` (zero-message opendir: fh 0); the 256 most recent are kept. */
  forInode(ino: number): DirHandle {
    const h = this.byInode.get(ino) ?? { ino, fsFh: 0 };
    this.byInode.delete(ino);
    this.byInode.set(ino, h);
    if (this.byInode.size > SHARED_HANDLES) this.byInode.delete(this.byInode.keys().next().value!);
    return h;
  }

  /** Forget a handle (RELEASEDIR); returns it, or undefined when unknown. */
  close(id: number): DirHandle | undefined {
    const h = this.handles.get(id);
    this.handles.delete(id);
    return h;
  }

  /** Remember that directory `ino` lives in `parent`. */
  noteParent(ino: number, parent: number): void {
    if (ino !== FUSE_ROOT_ID) this.parents.set(ino, parent);
  }

  /** Parent inode of a directory (the root is its own parent; unknown directories report themselves). */
  parentOf(ino: number): number {
    return this.parents.get(ino) ?? ino;
  }

  /** Number of open directory handles. */
  get size(): number {
    return this.handles.size;
  }
}
