// The 512-byte tar header block: field layout of POSIX ustar (with the GNU and star variants of the tail)
// and the header checksum. Spec: https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06

import { BLOCK } from './header.js';

/** [offset, width] of each header field. */
export const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

/** Name of a header field. */
export type FieldName = keyof typeof F;

/** Slice of one field of a header block. */
export const field = (block: Buffer, f: FieldName): Buffer => block.subarray(F[f][0], F[f][0] + F[f][1]);

/** Which header dialect a block was written in (decides how the prefix area is read). */
export type BlockFormat = 'ustar' | 'gnu' | 'star' | 'v7';

/** Tell the dialect from the magic/version fields (and star's trailer). */
export function blockFormat(block: Buffer): BlockFormat {
  const magic = block.toString('latin1', 257, 265);
  if (magic === 'ustar\x0000') return block.toString('latin1', 508, 512) === 'tar\0' ? 'star' : 'ustar';
  if (magic === 'ustar  \0') return 'gnu';
  return 'v7';
}

/** Unsigned byte sum with the checksum field counted as spaces (and the historic signed sum). */
export function checksums(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

/** Fill in the checksum field of a block being written: six octal digits, NUL, space. */
export function writeChecksum(block: Buffer): void {
  const sum = checksums(block).unsigned;
  block.write(sum.toString(8).padStart(6, '0'), 148, 6, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
}

/** True when every byte of the block is zero (end-of-archive marker). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** A NUL-terminated string field as raw bytes (without the terminator). */
export function fieldBytes(block: Buffer, f: FieldName): Buffer {
  const b = field(block, f);
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}
