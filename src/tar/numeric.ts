// Numeric header fields of tar: NUL/space-terminated octal (POSIX ustar) and GNU base-256 (high bit set in
// the first byte), as described in https://www.gnu.org/software/tar/manual/html_node/Standard.html

import { invalidArgument } from '../errors.js';

/** True when `n` fits a `width`-byte octal field (width − 1 digits plus a NUL). */
export function fitsOctal(n: number, width: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n < 8 ** (width - 1);
}

/** Write `n` as zero-padded octal of width − 1 digits followed by a NUL. */
export function writeOctal(block: Buffer, offset: number, width: number, n: number): void {
  const digits = n.toString(8).padStart(width - 1, '0');
  block.write(digits, offset, width - 1, 'latin1');
  block[offset + width - 1] = 0;
}

/** Write a non-negative `n` in GNU base-256 (big-endian, first byte 0x80). */
export function writeBase256(block: Buffer, offset: number, width: number, n: number): void {
  let v = BigInt(n);
  for (let i = width - 1; i > 0; i--) {
    block[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[offset] = 0x80;
}

/** Write `n` in octal when it fits, else in base-256 (for fields PAX has no key for). */
export function writeNumeric(block: Buffer, offset: number, width: number, n: number, field: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(`tar header: ${field} ${n} is not a non-negative integer`);
  if (fitsOctal(n, width)) writeOctal(block, offset, width, n);
  else writeBase256(block, offset, width, n);
}

/** Parse a numeric field: base-256 when the high bit is set, else octal up to the first NUL/space. */
export function parseNumeric(field: Buffer, name: string): number {
  const first = field[0] ?? 0;
  if (first & 0x80) return parseBase256(field, name);
  const fast = parseOctalFast(field);
  if (fast !== undefined) return fast;
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw invalidArgument(`not a tar archive: ${name} field "${printable(text)}" is not octal`);
  const n = parseInt(text, 8);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`tar header: ${name} ${text} (octal) is too large`);
  return n;
}

/** The common case without string work: optional leading spaces/zeros, digits, then NUL/space padding. */
function parseOctalFast(field: Buffer): number | undefined {
  let i = 0;
  while (i < field.length && field[i] === 0x20) i++;
  let n = 0;
  let digits = 0;
  for (; i < field.length; i++, digits++) {
    const c = field[i] as number;
    if (c < 0x30 || c > 0x37) break;
    n = n * 8 + (c - 0x30);
  }
  for (; i < field.length; i++) if (field[i] !== 0 && field[i] !== 0x20) return undefined;
  return digits > 0 && digits <= 17 ? n : undefined;
}

function parseBase256(field: Buffer, name: string): number {
  const negative = ((field[0] ?? 0) & 0x40) !== 0;
  let v = BigInt((field[0] ?? 0) & 0x7f);
  if (negative) v -= 0x80n; // two's complement over the whole field, sign bit included
  for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i] ?? 0);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalidArgument(`tar header: ${name} (base-256) is out of range`);
  return n;
}

/** Make a field text safe to quote in an error message. */
export function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
