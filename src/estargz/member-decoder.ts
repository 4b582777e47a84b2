// The one decode-and-verify path of eStargz and zstd:chunked layers: the bytes of one member (a gzip member
// or zstd frame) become its chunks, each checked against its sha256 before anyone sees it
// (docs/ESTARGZ.md, "Verification chain"). The lazy layer that serves FUSE reads and the verifying reader
// (EStargzReader.readChunk/readFile, which the Go-reference compatibility tests exercise) both decode
// through it. Only the bytes up to the last chunk's end are decompressed (member-inflate.ts,
// zstd-frame.ts): trailing tar headers are not, and a bomb costs at most what the chunks need.
//
// One policy for every reader: a member that does not decompress to the bytes its chunks need (not gzip or
// zstd, corrupt, ending early) fails each of its chunks with DigestMismatch, as does a chunk whose bytes do
// not match its size and digest; a chunk the TOC gives no digest is Unsupported (never served unverified).
// Through FUSE each of them is EIO (fs/toc-filesystem.ts).

import { CtrError, digestMismatch, isCtrError } from '../errors.js';
import { chunkError } from './chunk-verify.js';
import { inflatePrefix } from './member-inflate.js';
import { chunkWhere, type Chunk, type Member } from './toc-node.js';
import { decompressUpTo } from './zstd-frame.js';

/** Compression of a layer's members: 'gzip' (eStargz) or 'zstd' (zstd:chunked). */
export type MemberCompression = 'gzip' | 'zstd';

/** A chunk's verified bytes, or the error that rejected it. */
export type ChunkResult = { chunk: Chunk; data: Buffer } | { chunk: Chunk; error: CtrError };

/** Options of decodeMember. */
export interface DecodeMemberOptions {
  /** Serve the chunks without checking their digests (`--skip-content-verify`). Default false. */
  skipVerify?: boolean;
  /** Stops a gzip member's decompression (an Aborted error is thrown, not returned per chunk). Default none. */
  signal?: AbortSignal;
}

/** Bytes of uncompressed member content needed to serve all its chunks. */
export function neededBytes(member: Member): number {
  let need = 0;
  for (const c of member.chunks) need = Math.max(need, c.innerOffset + c.size);
  return need;
}

/** Decompress `compressed` (exactly the member's bytes) and cut and verify each of its chunks. */
export async function decodeMember(member: Member, compressed: Buffer, compression: MemberCompression, opts: DecodeMemberOptions = {}): Promise<ChunkResult[]> {
  const need = neededBytes(member);
  let plain: Buffer;
  try {
    const what = `member at offset ${member.offset}`;
    plain = compression === 'gzip' ? await inflatePrefix(compressed, need, what, opts.signal) : decompressUpTo(compressed, need);
    if (plain.length < need) throw new Error(`${what} ends after ${plain.length} of ${need} bytes`);
  } catch (e) {
    if (isCtrError(e, 'Aborted')) throw e;
    const files = [...new Set(member.chunks.map((c) => c.file.path))].join(', ');
    const err = digestMismatch(`${files}: member at offset ${member.offset} does not decompress: ${(e as Error).message}`, e);
    return member.chunks.map((chunk) => ({ chunk, error: err }));
  }
  return member.chunks.map((chunk) => cutChunk(chunk, plain, opts.skipVerify ?? false));
}

function cutChunk(chunk: Chunk, plain: Buffer, skipVerify: boolean): ChunkResult {
  const data = plain.subarray(chunk.innerOffset, chunk.innerOffset + chunk.size);
  if (skipVerify) return { chunk, data };
  const error = chunkError(data, chunk.size, chunk.digest, () => chunkWhere(chunk));
  return error ? { chunk, error } : { chunk, data };
}

/** The verified bytes of `chunk` among its member's results; throws the error that rejected it. */
export function pickChunk(chunk: Chunk, results: readonly ChunkResult[]): Buffer {
  const r = results.find((x) => x.chunk === chunk);
  if (!r) throw digestMismatch(`${chunkWhere(chunk)}: not produced by its member`);
  if ('error' in r) throw r.error;
  return r.data;
}
