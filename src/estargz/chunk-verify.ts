// The one check of a chunk's bytes against the TOC, made by decodeMember (member-decoder.ts) for every
// reader of a layer (the verifying reader and the lazy layer that serves FUSE reads): the bytes must be
// exactly the chunk's size and hash to its chunkDigest. A chunk whose TOC carries no digest cannot be
// verified and is never served. docs/ESTARGZ.md, "Verification chain".
import { createHash } from 'node:crypto';
import { CtrError, digestMismatch } from '../errors.js';

/** The error that rejects `data` as the chunk `where()` of `size` bytes and sha256 `digest`, or undefined when it is right. */
export function chunkError(data: Uint8Array, size: number, digest: string | undefined, where: () => string): CtrError | undefined {
  if (digest === undefined) return new CtrError('Unsupported', `${where()}: the TOC carries no chunkDigest to verify it`);
  if (data.length !== size) return digestMismatch(`${where()}: got ${data.length} bytes, the TOC says ${size}`);
  const got = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  return got === digest ? undefined : digestMismatch(`${where()}: content ${got} does not match ${digest}`);
}
