// PAX extended header records: "<len> <key>=<value>\n", where <len> counts the whole record in bytes,
// itself included. Values are raw bytes (SCHILY.xattr.* may hold binary data).
// Spec: https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_03

import { invalidArgument } from '../errors.js';
import { printable } from './numeric.js';

/** Encode one record; its length prefix counts its own digits. */
export function encodePaxRecord(key: string, value: Buffer): Buffer {
  if (key === '' || key.includes('=') || key.includes('\0')) throw invalidArgument(`tar header: PAX key "${printable(key)}" is empty or contains "=" or NUL`);
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'latin1'), body]);
}

/** Encode records sorted by key bytes (deterministic, the order Go's archive/tar uses). */
export function encodePaxRecords(records: Map<string, Buffer>): Buffer {
  const keys = [...records.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Buffer.concat(keys.map((k) => encodePaxRecord(k, records.get(k) ?? Buffer.alloc(0))));
}

/** Parse the data of a PAX 'x' or 'g' entry into key → raw value (later records win). */
export function parsePaxRecords(data: Buffer, where: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    if (data[pos] === 0) break; // trailing NUL padding written by some archivers
    const space = data.indexOf(0x20, pos);
    const lenText = space < 0 ? '' : data.toString('latin1', pos, space);
    const len = /^[0-9]{1,12}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(len > space - pos + 1) || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      throw invalidArgument(`not a tar archive: malformed PAX record at byte ${pos} of ${where}`);
    }
    const rec = data.subarray(space + 1, pos + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq <= 0) throw invalidArgument(`not a tar archive: PAX record without key at byte ${pos} of ${where}`);
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    pos += len;
  }
  return out;
}

/** Format seconds + nanoseconds as a PAX time ("123.5", "-1.25"), trailing zeros trimmed. */
export function formatPaxTime(sec: number, nsec: number): string {
  if (nsec === 0) return String(sec);
  // (sec, nsec) means sec + nsec/1e9 with 0 <= nsec < 1e9; PAX writes the signed decimal value.
  let s = sec;
  let n = nsec;
  let sign = '';
  if (s < 0) {
    sign = '-';
    s = -s - 1;
    n = 1e9 - n;
  }
  return `${sign}${s}.${String(n).padStart(9, '0').replace(/0+$/, '')}`;
}

/** Parse a PAX time into whole seconds (floored) and nanoseconds in [0, 1e9). */
export function parsePaxTime(text: string, key: string): { sec: number; nsec: number } {
  const m = /^(-?)([0-9]+)(?:\.([0-9]*))?$/.exec(text);
  if (!m) throw invalidArgument(`tar header: PAX ${key} "${printable(text)}" is not a time`);
  const whole = Number(m[2]);
  const frac = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (!Number.isSafeInteger(whole)) throw invalidArgument(`tar header: PAX ${key} ${printable(text)} is out of range`);
  if (m[1] !== '-') return { sec: whole, nsec: frac };
  return frac === 0 ? { sec: -whole, nsec: 0 } : { sec: -whole - 1, nsec: 1e9 - frac };
}
