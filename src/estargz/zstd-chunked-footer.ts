// zstd:chunked TOC framing: the TOC as a zstd frame wrapped in a skippable frame, and the 40-byte footer
// (itself in a skippable frame) that locates it.
// Spec: https://github.com/containers/storage/blob/main/docs/containers-storage-zstd-chunked.md
import { invalidArgument } from '../errors.js';

/** Payload size of the zstd:chunked footer. */
export const ZSTD_FOOTER_SIZE = 40;
/** Footer payload plus its skippable-frame header. */
export const ZSTD_FOOTER_FRAME_SIZE = ZSTD_FOOTER_SIZE + 8;
const SKIPPABLE_MAGIC = Buffer.from([0x50, 0x2a, 0x4d, 0x18]);
const CHUNKED_MAGIC = Buffer.from('GnUlInUx', 'latin1');
const MANIFEST_TYPE_CRFS = 1;

/** Where the TOC lives, as the footer and the manifest-position annotation say. */
export interface ZstdTocPosition {
  /** Offset of the compressed TOC (just after its skippable-frame header). */
  offset: number;
  compressedLength: number;
  uncompressedLength: number;
}

/** Wrap bytes in a zstd skippable frame. */
export function skippableFrame(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  SKIPPABLE_MAGIC.copy(head, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** The footer frame (48 bytes) for a TOC at `pos`. */
export function buildZstdFooter(pos: ZstdTocPosition): Buffer {
  const f = Buffer.alloc(ZSTD_FOOTER_SIZE);
  f.writeBigUInt64LE(BigInt(pos.offset), 0);
  f.writeBigUInt64LE(BigInt(pos.compressedLength), 8);
  f.writeBigUInt64LE(BigInt(pos.uncompressedLength), 16);
  f.writeBigUInt64LE(BigInt(MANIFEST_TYPE_CRFS), 24);
  CHUNKED_MAGIC.copy(f, 32);
  return skippableFrame(f);
}

/** Parse the last 40 bytes of a zstd:chunked blob. */
export function parseZstdFooter(p: Uint8Array): ZstdTocPosition {
  const b = Buffer.from(p.buffer, p.byteOffset, p.byteLength);
  if (b.length !== ZSTD_FOOTER_SIZE) throw invalidArgument(`zstd:chunked footer must be ${ZSTD_FOOTER_SIZE} bytes`);
  if (!b.subarray(32, 40).equals(CHUNKED_MAGIC)) throw invalidArgument('not a zstd:chunked blob: footer magic GnUlInUx not found');
  const num = (o: number) => {
    const v = b.readBigUInt64LE(o);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument('zstd:chunked footer: offset or length too large');
    return Number(v);
  };
  return { offset: num(0), compressedLength: num(8), uncompressedLength: num(16) };
}

/** The `io.containers.zstd-chunked.manifest-position` annotation value. */
export function manifestPosition(pos: ZstdTocPosition): string {
  return `${pos.offset}:${pos.compressedLength}:${pos.uncompressedLength}:${MANIFEST_TYPE_CRFS}`;
}
