// Decompress one fetched member and cut out its chunks, each checked against its sha256 before anyone sees
// it (docs/ESTARGZ.md, "Verification chain"). Only the bytes up to the last chunk's end are
// inflated (estargz/member-inflate.ts); trailing tar headers in the member are not decompressed.

import { CtrError, digestMismatch } from '../errors.js';
import { chunkError } from '../estargz/chunk-verify.js';
import { inflatePrefix } from '../estargz/member-inflate.js';
import { decompressUpTo } from '../estargz/zstd-frame.js';
import type { Chunk, Member } from './chunk-map.js';

/** Compression of a layer's members. */
export type MemberCompression = 'gzip' | 'zstd';

/** A chunk's verified bytes, or the error that rejected it. */
export type ChunkResult = { chunk: Chunk; data: Buffer } | { chunk: Chunk; error: CtrError };

/** Bytes of uncompressed member content needed to serve all its chunks. */
export function neededBytes(member: Member): number {
  return Math.max(...member.chunks.map((c) => c.innerOffset + c.size));
}

/** Decompress `compressed` (exactly the member's bytes) and verify each chunk; `skipVerify` trusts them. */
export async function decodeMember(
  member: Member,
  compressed: Buffer,
  compression: MemberCompression,
  skipVerify = false,
): Promise<ChunkResult[]> {
  const need = neededBytes(member);
  let plain: Buffer;
  try {
    plain = compression === 'gzip' ? await inflatePrefix(compressed, need, `member at offset ${member.offset}`) : decompressUpTo(compressed, need);
  } catch (e) {
    const files = [...new Set(member.chunks.map((c) => c.file.name))].join(', ');
    const err = digestMismatch(`${files}: member at offset ${member.offset} does not decompress: ${(e as Error).message}`, e);
    return member.chunks.map((chunk) => ({ chunk, error: err }));
  }
  return member.chunks.map((chunk) => cutChunk(chunk, plain, skipVerify));
}

function cutChunk(chunk: Chunk, plain: Buffer, skipVerify: boolean): ChunkResult {
  const where = `${chunk.file.name} chunk at ${chunk.fileOffset}`;
  const data = plain.subarray(chunk.innerOffset, chunk.innerOffset + chunk.size);
  if (data.length !== chunk.size) {
    return { chunk, error: digestMismatch(`${where}: member at offset ${chunk.member.offset} holds ${data.length} of ${chunk.size} bytes`) };
  }
  if (skipVerify) return { chunk, data };
  const error = chunkError(data, chunk.size, chunk.digest, where);
  return error ? { chunk, error } : { chunk, data };
}
