// Opcode table rows for extended attributes: GETXATTR and LISTXATTR, with the size protocol of getxattr(2):
// a request size of 0 is a probe answered with fuse_getxattr_out{size}; a too-small buffer is ERANGE.
// A filesystem with no xattr at all answers ENOSYS: the kernel then marks the connection as without
// getxattr (listxattr) and sends neither again, answering EOPNOTSUPP itself, as any filesystem without
// xattrs does. overlayfs asks the lower layer of each file it looks up for its metacopy xattr (and of each
// directory for its opaque and redirect ones; exec asks for security.capability): a walk of a Debian root
// filesystem through a container's overlayfs sent 7,569 GETXATTRs to a layer with none, besides its 2,391
// other requests (docs/DECISIONS.md, "FUSE server").

import { Opcode, decodeGetxattrIn, encodeGetxattrOut } from './abi.js';
import { Errno, FuseErrno } from './errno.js';
import { cstring } from './ops-file.js';
import type { FuseProtocol, OpcodeEntry, Payload, Request } from './protocol.js';

/** Answer a sized xattr request with `value`: probe → its size, too small → ERANGE, else the bytes. */
function sized(value: Buffer, size: number): Payload {
  if (size === 0) return [encodeGetxattrOut(value.length)];
  if (value.length > size) throw new FuseErrno(Errno.ERANGE);
  return [value];
}

/** ENOSYS when the filesystem has no xattr at all (see the module comment). */
function noXattrs(p: FuseProtocol): void {
  if (p.fs.hasXattrs?.() === false) throw new FuseErrno(Errno.ENOSYS);
}

async function getxattr(p: FuseProtocol, req: Request): Promise<Payload> {
  noXattrs(p);
  const { size } = decodeGetxattrIn(req.body);
  const name = cstring(req.body, 8);
  if (!p.fs.getxattr) throw new FuseErrno(Errno.ENODATA);
  const v = await p.fs.getxattr(req.header.nodeid, name, req.ctx);
  return sized(Buffer.from(v.buffer, v.byteOffset, v.byteLength), size);
}

async function listxattr(p: FuseProtocol, req: Request): Promise<Payload> {
  noXattrs(p);
  const { size } = decodeGetxattrIn(req.body);
  const names = p.fs.listxattr ? await p.fs.listxattr(req.header.nodeid, req.ctx) : [];
  return sized(Buffer.from(names.map((n) => `${n}\0`).join(''), 'utf8'), size);
}

/** Rows of the opcode table for extended attributes. */
export function xattrOps(): [number, OpcodeEntry][] {
  return [
    [Opcode.GETXATTR, { name: 'GETXATTR', run: getxattr }],
    [Opcode.LISTXATTR, { name: 'LISTXATTR', run: listxattr }],
  ];
}
