// Opcode table rows for directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR. Offsets given to the kernel
// are indexes into the handle's listing snapshot ("." is 0, ".." is 1), so a listing resumes exactly.

import {
  ENTRY_OUT_SIZE, InitFlag, Opcode, decodeOpenIn, decodeReadIn, decodeReleaseIn, direntSize, direntplusSize, encodeOpenOut,
  writeDirent,
} from './abi.js';
import type { DirHandle } from './dir-handles.js';
import { Errno, FuseErrno } from './errno.js';
import { openFlagsOf } from './ops-file.js';
import type { FuseProtocol, OpcodeEntry, Payload, Request } from './protocol.js';
import type { DirEntry, Entry } from './raw-filesystem.js';
import { direntType, isDirMode, writeEntry } from './wire-attr.js';

const S_IFDIR = 0o040000;

async function opendir(p: FuseProtocol, req: Request): Promise<Payload> {
  const { flags } = decodeOpenIn(req.body);
  const r = p.fs.opendir ? await p.fs.opendir(req.header.nodeid, flags, req.ctx) : {};
  if (p.zeroMessage(InitFlag.NO_OPENDIR_SUPPORT)) throw new FuseErrno(Errno.ENOSYS); // no more OPENDIR/RELEASEDIR
  const id = p.dirs.open(req.header.nodeid, r.fh ?? 0);
  return [encodeOpenOut(id, openFlagsOf(r, false))];
}

async function releasedir(p: FuseProtocol, req: Request): Promise<Payload> {
  const h = p.dirs.close(decodeReleaseIn(req.body).fh);
  if (h) await p.fs.releasedir?.(h.ino, h.fsFh);
  return [];
}

/** The open handle, or with zero-message opendir (fh 0) the directory inode's shared handle. */
function handleOf(p: FuseProtocol, fh: number, req: Request): DirHandle {
  return fh === 0 && p.zeroMessage(InitFlag.NO_OPENDIR_SUPPORT) ? p.dirs.forInode(req.header.nodeid) : p.dirs.get(fh);
}

/** The handle's listing with "." and "..", fetched on first use (a failed fetch is retried next time). */
function listing(p: FuseProtocol, h: DirHandle, req: Request): Promise<DirEntry[]> {
  if (!h.listing) {
    const dots: DirEntry[] = [
      { name: '.', ino: h.ino, mode: S_IFDIR },
      { name: '..', ino: p.dirs.parentOf(h.ino), mode: S_IFDIR },
    ];
    h.listing = p.fs.readdir(h.ino, h.fsFh, req.ctx).then((children) => [...dots, ...children]);
    h.listing.catch(() => (h.listing = undefined));
  }
  return h.listing;
}

/** Entries from `start` whose records fit in `size` bytes, with their encoded names. */
function batch(all: DirEntry[], start: number, size: number, recSize: (n: number) => number) {
  const out: { e: DirEntry; name: Buffer; index: number }[] = [];
  let used = 0;
  for (let i = start; i < all.length; i++) {
    const e = all[i]!;
    const name = Buffer.from(e.name, 'utf8');
    used += recSize(name.length);
    if (used > size) break;
    out.push({ e, name, index: i });
  }
  return out;
}

async function readdir(p: FuseProtocol, req: Request): Promise<Payload> {
  const r = decodeReadIn(req.body);
  const h = handleOf(p, r.fh, req);
  const items = batch(await listing(p, h, req), r.offset, r.size, direntSize);
  const b = Buffer.alloc(items.reduce((n, it) => n + direntSize(it.name.length), 0));
  let off = 0;
  for (const { e, name, index } of items) {
    writeDirent(b, off, e.ino, index + 1, direntType(e.mode), name);
    off += direntSize(name.length);
  }
  return [b];
}

/** The Entry for a listed child: the one it carries, else a lookup; undefined for dots and failed lookups. */
async function entryFor(p: FuseProtocol, dir: number, e: DirEntry, req: Request): Promise<Entry | undefined> {
  if (e.name === '.' || e.name === '..') return undefined;
  if (e.entry) return e.entry;
  try {
    return await p.fs.lookup(dir, e.name, req.ctx);
  } catch {
    return undefined; // node id 0: the kernel shows the name without caching attributes
  }
}

async function readdirplus(p: FuseProtocol, req: Request): Promise<Payload> {
  const r = decodeReadIn(req.body);
  const h = handleOf(p, r.fh, req);
  const items = batch(await listing(p, h, req), r.offset, r.size, direntplusSize);
  const entries = await Promise.all(items.map((it) => entryFor(p, h.ino, it.e, req)));
  const b = Buffer.alloc(items.reduce((n, it) => n + direntplusSize(it.name.length), 0));
  let off = 0;
  items.forEach(({ e, name, index }, i) => {
    const entry = entries[i];
    if (entry) {
      writeEntry(b, off, entry, p);
      if (isDirMode(entry.attr.mode)) p.dirs.noteParent(entry.attr.ino, h.ino);
    }
    writeDirent(b, off + ENTRY_OUT_SIZE, entry?.attr.ino ?? e.ino, index + 1, direntType(entry?.attr.mode ?? e.mode), name);
    off += direntplusSize(name.length);
  });
  return [b];
}

/** Rows of the opcode table for directories. */
export function dirOps(): [number, OpcodeEntry][] {
  return [
    [Opcode.OPENDIR, { name: 'OPENDIR', run: opendir }],
    [Opcode.READDIR, { name: 'READDIR', run: readdir }],
    [Opcode.READDIRPLUS, { name: 'READDIRPLUS', run: readdirplus }],
    [Opcode.RELEASEDIR, { name: 'RELEASEDIR', run: releasedir }],
  ];
}
