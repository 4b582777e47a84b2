// The tar writer: deterministic POSIX ustar headers, preceded by a PAX extended header ('x') whenever a
// field does not fit ustar (long or non-ASCII names, big ids/sizes, sub-second mtimes, xattrs, extra
// records). Layout and PAX header naming follow Go's archive/tar so the reference reads us without surprise.
// Spec: https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13

import { posix } from 'node:path';
import { invalidArgument } from '../errors.js';
import { BLOCK, paddingFor, type TarEntryType, type TarHeader } from './header.js';
import { F, writeChecksum } from './block.js';
import { fitsOctal, printable, writeNumeric, writeOctal } from './numeric.js';
import { encodePaxRecords, formatPaxTime } from './pax.js';

/** The end-of-archive marker: two zero blocks. Shared; never write into it. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);

/** Typeflag byte of each entry type. */
export const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

/** PAX keys the codec maps onto TarHeader fields; they may not appear in `paxExtra`. */
export const MAPPED_PAX_KEYS = new Set(['path', 'linkpath', 'size', 'uid', 'gid', 'uname', 'gname', 'mtime']);

const isAscii = (s: string): boolean => /^[\x01-\x7f]*$/.test(s);
const toAscii = (s: string): string => s.replace(/[^\x01-\x7f]/g, '');

/** Encode the header of one entry: optional PAX 'x' header + data + padding, then the ustar block. */
export function encodeHeader(h: TarHeader): Buffer {
  validate(h);
  const pax = new Map<string, Buffer>(h.paxExtra ?? []);
  for (const [k, v] of h.xattrs ?? []) pax.set(`SCHILY.xattr.${k}`, Buffer.from(v));
  const block = Buffer.alloc(BLOCK);
  writeName(block, h.name, pax);
  writeText(block, 'linkname', h.linkname ?? '', 'linkpath', pax);
  writeNumeric(block, F.mode[0], F.mode[1], h.mode, 'mode');
  writeBig(block, 'uid', h.uid, pax);
  writeBig(block, 'gid', h.gid, pax);
  writeBig(block, 'size', h.size, pax);
  writeMtime(block, h, pax);
  block.write(TYPEFLAG[h.type], F.typeflag[0], 'latin1');
  block.write('ustar\x0000', F.magic[0], 8, 'latin1');
  writeText(block, 'uname', h.uname ?? '', 'uname', pax);
  writeText(block, 'gname', h.gname ?? '', 'gname', pax);
  writeNumeric(block, F.devmajor[0], F.devmajor[1], h.devmajor ?? 0, 'devmajor');
  writeNumeric(block, F.devminor[0], F.devminor[1], h.devminor ?? 0, 'devminor');
  writeChecksum(block);
  if (pax.size === 0) return block;
  const data = encodePaxRecords(pax);
  return Buffer.concat([rawHeader(paxHeaderName(h.name), 'x', data.length), data, Buffer.alloc(paddingFor(data.length)), block]);
}

/** Encode a whole archive held in memory (tests and small layers). */
export function encodeTar(entries: Iterable<{ header: TarHeader; data?: Uint8Array }>): Buffer {
  const parts: Buffer[] = [];
  for (const { header, data } of entries) {
    const body = Buffer.from(data ?? new Uint8Array(0));
    checkBodySize(header, body.length);
    parts.push(encodeHeader(header), body, Buffer.alloc(paddingFor(body.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** An entry to stream out: the header and its payload (exactly header.size bytes). */
export interface TarWriteEntry {
  header: TarHeader;
  /** The payload; absent means empty. */
  body?: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Stream an archive: each entry's header, payload and padding, then the end-of-archive blocks. */
export async function* writeTar(
  entries: AsyncIterable<TarWriteEntry> | Iterable<TarWriteEntry>,
  opts: { /** Stops between chunks with an AbortError. */ signal?: AbortSignal } = {},
): AsyncGenerator<Buffer> {
  for await (const { header, body } of entries) {
    opts.signal?.throwIfAborted();
    yield encodeHeader(header);
    let n = 0;
    const chunks = body === undefined ? [] : body instanceof Uint8Array ? [body] : body;
    for await (const chunk of chunks) {
      opts.signal?.throwIfAborted();
      n += chunk.length;
      if (n > header.size) break;
      if (chunk.length > 0) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    }
    checkBodySize(header, n);
    const pad = paddingFor(n);
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield END_OF_ARCHIVE;
}

function checkBodySize(h: TarHeader, n: number): void {
  if (n !== h.size) throw invalidArgument(`tar writer: entry "${printable(h.name)}" has ${n > h.size ? `more than ${h.size}` : n} bytes of data, its header says ${h.size}`);
}

function validate(h: TarHeader): void {
  const bad = (what: string) => invalidArgument(`tar header for "${printable(h.name)}": ${what}`);
  if (h.name === '' || h.name.includes('\0')) throw bad('name is empty or contains NUL');
  if (!(h.type in TYPEFLAG)) throw bad(`unknown type ${String(h.type)}`);
  for (const k of ['mode', 'uid', 'gid', 'size'] as const) {
    if (!Number.isSafeInteger(h[k]) || h[k] < 0) throw bad(`${k} ${h[k]} is not a non-negative integer`);
  }
  if (h.type !== 'file' && h.size !== 0) throw bad(`size ${h.size} on a ${h.type} (only regular files carry data)`);
  if (!Number.isSafeInteger(h.mtime)) throw bad(`mtime ${h.mtime} is not an integer`);
  const ns = h.mtimeNsec ?? 0;
  if (!Number.isInteger(ns) || ns < 0 || ns >= 1e9) throw bad(`mtimeNsec ${ns} is outside [0, 1e9)`);
  if ((h.linkname ?? '').includes('\0')) throw bad('linkname contains NUL');
  for (const k of h.paxExtra?.keys() ?? []) {
    if (MAPPED_PAX_KEYS.has(k) || k.startsWith('SCHILY.xattr.') || k.startsWith('GNU.sparse.')) throw bad(`paxExtra may not carry "${printable(k)}"`);
  }
}

/** Name: ustar name, or prefix + name split at a "/", or a PAX path with a truncated ASCII ustar name. */
function writeName(block: Buffer, name: string, pax: Map<string, Buffer>): void {
  const len = Buffer.byteLength(name);
  if (isAscii(name) && len <= F.name[1]) return void block.write(name, F.name[0], 'latin1');
  const split = isAscii(name) ? splitUstar(name) : undefined;
  if (split) {
    block.write(split.prefix, F.prefix[0], 'latin1');
    return void block.write(split.name, F.name[0], 'latin1');
  }
  pax.set('path', Buffer.from(name, 'utf8'));
  block.write(toAscii(name).slice(0, F.name[1]), F.name[0], 'latin1');
}

/** Split an ASCII path at the last "/" that leaves ≤ 155 bytes of prefix and 1..100 bytes of name. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  let i = name.lastIndexOf('/', Math.min(name.length - 2, F.prefix[1]));
  for (; i > 0; i = name.lastIndexOf('/', i - 1)) {
    const rest = name.length - i - 1;
    if (rest > F.name[1]) return undefined; // moving left only makes the name longer
    if (rest > 0) return { prefix: name.slice(0, i), name: name.slice(i + 1) };
  }
  return undefined;
}

/** A string field, or a PAX record plus a truncated ASCII copy when it is too long or not ASCII. */
function writeText(block: Buffer, f: 'linkname' | 'uname' | 'gname', s: string, key: string, pax: Map<string, Buffer>): void {
  const [off, width] = F[f];
  if (isAscii(s) && s.length <= width) return void block.write(s, off, 'latin1');
  pax.set(key, Buffer.from(s, 'utf8'));
  block.write(toAscii(s).slice(0, width), off, 'latin1');
}

/** uid/gid/size: octal when it fits, else a PAX record and 0 in the ustar field (as Go writes). */
function writeBig(block: Buffer, f: 'uid' | 'gid' | 'size', n: number, pax: Map<string, Buffer>): void {
  const [off, width] = F[f];
  if (fitsOctal(n, width)) return writeOctal(block, off, width, n);
  pax.set(f, Buffer.from(String(n), 'latin1'));
  writeOctal(block, off, width, 0);
}

/** mtime: octal seconds; a PAX mtime carries fractions and values octal cannot hold. */
function writeMtime(block: Buffer, h: TarHeader, pax: Map<string, Buffer>): void {
  const [off, width] = F.mtime;
  const fits = fitsOctal(h.mtime, width);
  writeOctal(block, off, width, fits ? h.mtime : 0);
  const ns = h.mtimeNsec ?? 0;
  if (!fits || ns !== 0) pax.set('mtime', Buffer.from(formatPaxTime(h.mtime, ns), 'latin1'));
}

/** Go's name for the PAX header of an entry: "<dir>/PaxHeaders.0/<base>", ASCII, ≤ 100 bytes. */
function paxHeaderName(name: string): string {
  const i = name.lastIndexOf('/');
  const joined = posix.join(name.slice(0, i + 1), 'PaxHeaders.0', name.slice(i + 1));
  return toAscii(joined).slice(0, F.name[1]).replace(/\/+$/, '');
}

/** A bare ustar block for an extension entry (PAX 'x'/'g') with zero mode, ids and mtime. */
function rawHeader(name: string, typeflag: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, F.name[0], 'latin1');
  for (const f of ['mode', 'uid', 'gid'] as const) writeOctal(block, F[f][0], F[f][1], 0);
  writeOctal(block, F.size[0], F.size[1], size);
  writeOctal(block, F.mtime[0], F.mtime[1], 0);
  block.write(typeflag, F.typeflag[0], 'latin1');
  block.write('ustar\x0000', F.magic[0], 8, 'latin1');
  writeChecksum(block);
  return block;
}
