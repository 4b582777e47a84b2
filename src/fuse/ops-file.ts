// Opcode table rows for names, inodes and file contents: LOOKUP, FORGET, BATCH_FORGET, GETATTR, READLINK,
// OPEN, READ, RELEASE, STATFS, ACCESS. See protocol.ts for the dispatch and error mapping.

import {
  InitFlag, Opcode, OpenFlag, decodeAccessIn, decodeBatchForget, decodeForgetIn, decodeGetattrIn, decodeOpenIn,
  decodeReadIn, decodeReleaseIn, encodeAttrOut, encodeOpenOut, encodeStatfsOut,
} from './abi.js';
import { Errno, FuseErrno, errnoOf } from './errno.js';
import type { FuseProtocol, OpcodeEntry, Payload, Request } from './protocol.js';
import type { OpenReply } from './raw-filesystem.js';
import { encodeEntry, encodeNegativeEntry, isDirMode, toWireAttr } from './wire-attr.js';

const O_ACCMODE = 3;

/** Decode a NUL-terminated name at the start of `b`. */
export function cstring(b: Buffer, start = 0): string {
  const nul = b.indexOf(0, start);
  return b.toString('utf8', start, nul < 0 ? b.length : nul);
}

/** Encode the open flags the kernel understands from an OpenReply. */
export function openFlagsOf(r: OpenReply, keepCacheDefault: boolean): number {
  let f = 0;
  if (r.keepCache ?? keepCacheDefault) f |= OpenFlag.KEEP_CACHE;
  if (r.directIo) f |= OpenFlag.DIRECT_IO;
  if (r.cacheDir) f |= OpenFlag.CACHE_DIR;
  return f;
}

async function lookup(p: FuseProtocol, req: Request): Promise<Payload> {
  const parent = req.header.nodeid;
  const name = cstring(req.body);
  try {
    const e = await p.fs.lookup(parent, name, req.ctx);
    if (isDirMode(e.attr.mode)) p.dirs.noteParent(e.attr.ino, parent);
    return [encodeEntry(e, p)];
  } catch (err) {
    if (p.negativeTimeoutMs > 0 && errnoOf(err).errno === Errno.ENOENT) return [encodeNegativeEntry(p.negativeTimeoutMs)];
    throw err;
  }
}

function forget(p: FuseProtocol, req: Request): Payload {
  p.fs.forget?.(req.header.nodeid, decodeForgetIn(req.body).nlookup);
  return null;
}

function batchForget(p: FuseProtocol, req: Request): Payload {
  for (const f of decodeBatchForget(req.body)) p.fs.forget?.(f.nodeid, f.nlookup);
  return null;
}

async function getattr(p: FuseProtocol, req: Request): Promise<Payload> {
  const g = decodeGetattrIn(req.body);
  const r = await p.fs.getattr(req.header.nodeid, req.ctx, (g.flags & 1) !== 0 ? g.fh : undefined);
  return [encodeAttrOut(r.attrTimeoutMs ?? p.attrTimeoutMs, toWireAttr(r.attr))];
}

async function readlink(p: FuseProtocol, req: Request): Promise<Payload> {
  const t = await p.fs.readlink(req.header.nodeid, req.ctx);
  return [typeof t === 'string' ? Buffer.from(t, 'utf8') : Buffer.from(t.buffer, t.byteOffset, t.byteLength)];
}

async function open(p: FuseProtocol, req: Request): Promise<Payload> {
  const { flags } = decodeOpenIn(req.body);
  if ((flags & O_ACCMODE) !== 0) throw new FuseErrno(Errno.EROFS);
  if (p.zeroMessage(InitFlag.NO_OPEN_SUPPORT)) throw new FuseErrno(Errno.ENOSYS);
  const r = p.fs.open ? await p.fs.open(req.header.nodeid, flags, req.ctx) : {};
  return [encodeOpenOut(r.fh ?? 0, openFlagsOf(r, true))];
}

async function read(p: FuseProtocol, req: Request): Promise<Payload> {
  const r = decodeReadIn(req.body);
  if (r.size > p.maxReadBytes) throw new FuseErrno(Errno.EINVAL, `READ of ${r.size} bytes exceeds ${p.maxReadBytes}`);
  const data = await p.fs.read(req.header.nodeid, r.fh, r.offset, r.size, req.ctx);
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return [buf.length > r.size ? buf.subarray(0, r.size) : buf];
}

async function release(p: FuseProtocol, req: Request): Promise<Payload> {
  await p.fs.release?.(req.header.nodeid, decodeReleaseIn(req.body).fh);
  return [];
}

async function statfs(p: FuseProtocol, req: Request): Promise<Payload> {
  const s = p.fs.statfs ? await p.fs.statfs(req.header.nodeid, req.ctx) : {};
  return [encodeStatfsOut({
    blocks: s.blocks ?? 0, bfree: s.bfree ?? 0, bavail: s.bavail ?? 0, files: s.files ?? 0, ffree: s.ffree ?? 0,
    bsize: s.bsize ?? 4096, namelen: s.namelen ?? 255, frsize: s.frsize ?? 4096,
  })];
}

async function access(p: FuseProtocol, req: Request): Promise<Payload> {
  const { mask } = decodeAccessIn(req.body);
  if ((mask & 2) !== 0) throw new FuseErrno(Errno.EROFS);
  await p.fs.access?.(req.header.nodeid, mask, req.ctx);
  return [];
}

/** Rows of the opcode table for files and inodes. */
export function fileOps(): [number, OpcodeEntry][] {
  return [
    [Opcode.LOOKUP, { name: 'LOOKUP', run: lookup }],
    [Opcode.FORGET, { name: 'FORGET', run: forget }],
    [Opcode.BATCH_FORGET, { name: 'BATCH_FORGET', run: batchForget }],
    [Opcode.GETATTR, { name: 'GETATTR', run: getattr }],
    [Opcode.READLINK, { name: 'READLINK', run: readlink }],
    [Opcode.OPEN, { name: 'OPEN', run: open }],
    [Opcode.READ, { name: 'READ', run: read }],
    [Opcode.RELEASE, { name: 'RELEASE', run: release }],
    [Opcode.STATFS, { name: 'STATFS', run: statfs }],
    [Opcode.ACCESS, { name: 'ACCESS', run: access }],
  ];
}
