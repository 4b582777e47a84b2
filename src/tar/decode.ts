// Decoding header blocks into TarHeaders: checksum, the ustar/GNU/star/v7 dialects, and the extension
// entries that modify the next header (PAX 'x' local and 'g' global records, GNU 'L'/'K' long names).
// Shared by the streaming reader and the in-memory parser. Formats:
// https://www.gnu.org/software/tar/manual/html_node/Standard.html and the pax spec (see pax.ts).

import { invalidArgument, unsupported, limitExceeded } from '../errors.js';
import type { TarEntryType, TarHeader } from './header.js';
import { blockFormat, checksums, field, fieldBytes } from './block.js';
import { parseNumeric, printable } from './numeric.js';
import { parsePaxRecords, parsePaxTime } from './pax.js';

/** Options shared by the tar readers. */
export interface DecodeOptions {
  /** Largest PAX or GNU long-name extension payload accepted; default 1 MiB (Go's limit). */
  maxExtensionSize?: number;
}
/** Default limit on one PAX/GNU extension payload (1 MiB). */
export const DEFAULT_MAX_EXTENSION = 1 << 20;

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file', // contiguous file: an ordinary file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};
const EXTENSIONS = new Set(['x', 'g', 'L', 'K']);
const KNOWN_UNSUPPORTED: Record<string, string> = {
  S: 'GNU sparse file',
  D: 'GNU incremental dump directory',
  M: 'GNU multi-volume continuation',
  V: 'GNU volume header',
  N: 'old GNU long-name record',
};

/** Reject a block whose checksum does not match (both the POSIX unsigned and the historic signed sum). */
export function checkBlock(block: Buffer, offset: number): void {
  const stored = field(block, 'chksum').toString('latin1').replace(/\0.*$/s, '').trim();
  const sums = checksums(block);
  const ok = /^[0-7]{1,8}$/.test(stored) && [sums.unsigned, sums.signed].includes(parseInt(stored, 8));
  if (!ok) throw invalidArgument(`not a tar archive: bad header checksum at offset ${offset}`);
}

/** Payload size of an extension block ('x', 'g', 'L', 'K'), or undefined for an ordinary entry. */
export function extensionSize(block: Buffer, offset: number, opts: DecodeOptions): number | undefined {
  const flag = String.fromCharCode(block[156] ?? 0);
  if (!EXTENSIONS.has(flag)) return undefined;
  const size = parseNumeric(field(block, 'size'), 'size');
  const max = opts.maxExtensionSize ?? DEFAULT_MAX_EXTENSION;
  if (size > max) throw limitExceeded(`tar extension header '${flag}' at offset ${offset} is ${size} bytes, over the ${max}-byte limit`);
  return size;
}

/** Extension records collected while walking to the next real header. */
export class ExtensionState {
  /** PAX global records: apply to every following entry. */
  readonly globals = new Map<string, Buffer>();
  private local = new Map<string, Buffer>();
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;

  /** True when extension blocks were read that still wait for their entry. */
  get pending(): boolean {
    return this.local.size > 0 || this.longName !== undefined || this.longLink !== undefined;
  }

  /** Take in the payload of an extension block. */
  absorb(block: Buffer, data: Buffer, offset: number): void {
    const flag = String.fromCharCode(block[156] ?? 0);
    const where = `the PAX header at offset ${offset}`;
    if (flag === 'x') for (const [k, v] of parsePaxRecords(data, where)) this.local.set(k, v);
    else if (flag === 'g') {
      for (const [k, v] of parsePaxRecords(data, where)) {
        if (v.length === 0) this.globals.delete(k);
        else this.globals.set(k, v);
      }
    } else if (flag === 'L') this.longName = cutNul(data);
    else if (flag === 'K') this.longLink = cutNul(data);
  }

  /** Build the header of an ordinary entry block, applying and then clearing the pending extensions. */
  decode(block: Buffer, offset: number): { header: TarHeader; dataSize: number } {
    try {
      const pax = this.globals.size === 0 ? this.local : new Map([...this.globals, ...this.local]);
      return decodeWith(block, offset, pax, this.longName, this.longLink);
    } finally {
      this.local = new Map();
      this.longName = this.longLink = undefined;
    }
  }
}

function decodeWith(
  block: Buffer,
  offset: number,
  pax: Map<string, Buffer>,
  longName: Buffer | undefined,
  longLink: Buffer | undefined,
): { header: TarHeader; dataSize: number } {
  const flag = String.fromCharCode(block[156] ?? 0);
  const format = blockFormat(block);
  const h: TarHeader = {
    name: text(longName ?? pathBytes(block, format)),
    type: 'file',
    mode: parseNumeric(field(block, 'mode'), 'mode'),
    uid: parseNumeric(field(block, 'uid'), 'uid'),
    gid: parseNumeric(field(block, 'gid'), 'gid'),
    size: parseNumeric(field(block, 'size'), 'size'),
    mtime: parseNumeric(field(block, 'mtime'), 'mtime'),
  };
  const type = TYPES[flag];
  if (type === undefined) {
    const what = KNOWN_UNSUPPORTED[flag] ?? `entry type '${printable(flag)}'`;
    throw unsupported(`tar entry "${printable(h.name)}" at offset ${offset}: ${what} is not supported`);
  }
  const link = longLink ?? fieldBytes(block, 'linkname');
  if (link.length > 0) h.linkname = text(link);
  if (format !== 'v7') readOwnerNames(block, h);
  if (type === 'char' || type === 'block') {
    h.devmajor = parseNumeric(field(block, 'devmajor'), 'devmajor');
    h.devminor = parseNumeric(field(block, 'devminor'), 'devminor');
  }
  applyPax(h, pax, offset, longName !== undefined, longLink !== undefined);
  h.type = type === 'file' && h.name.endsWith('/') ? 'dir' : type;
  const dataSize = h.type === 'file' ? h.size : 0; // POSIX: no data records for the other types
  h.size = dataSize;
  return { header: h, dataSize };
}

function readOwnerNames(block: Buffer, h: TarHeader): void {
  const u = fieldBytes(block, 'uname');
  const g = fieldBytes(block, 'gname');
  if (u.length > 0) h.uname = text(u);
  if (g.length > 0) h.gname = text(g);
}

/** The stored path: ustar joins prefix + "/" + name; star has a shorter prefix; GNU/v7 have none. */
function pathBytes(block: Buffer, format: string): Buffer {
  const name = fieldBytes(block, 'name');
  let prefix: Buffer | undefined;
  if (format === 'ustar') prefix = fieldBytes(block, 'prefix');
  if (format === 'star') prefix = cutNul(block.subarray(345, 345 + 131));
  if (!prefix || prefix.length === 0) return name;
  return Buffer.concat([prefix, Buffer.from('/'), name]);
}

/** Apply PAX records; a GNU long name/link read for this entry takes precedence (as in Go). */
function applyPax(h: TarHeader, pax: Map<string, Buffer>, offset: number, hasLongName: boolean, hasLongLink: boolean): void {
  for (const [k, v] of pax) {
    if (v.length === 0) continue; // an empty local value cancels a global one: keep the header's field
    const s = (): string => v.toString('utf8');
    if (TEXT_KEYS.has(k) && v.includes(0)) throw invalidArgument(`tar header at offset ${offset}: PAX ${k} contains a NUL byte`);
    if (k.startsWith('GNU.sparse.')) throw unsupported(`tar entry "${printable(h.name)}" at offset ${offset}: PAX sparse file (${k}) is not supported`);
    else if (k === 'path') h.name = hasLongName ? h.name : s();
    else if (k === 'linkpath') h.linkname = hasLongLink ? h.linkname : s();
    else if (k === 'size' || k === 'uid' || k === 'gid') h[k] = paxInteger(s(), k, offset);
    else if (k === 'uname') h.uname = s();
    else if (k === 'gname') h.gname = s();
    else if (k === 'mtime') {
      const t = parsePaxTime(s(), k);
      h.mtime = t.sec;
      if (t.nsec !== 0) h.mtimeNsec = t.nsec;
    } else if (k.startsWith('SCHILY.xattr.')) (h.xattrs ??= new Map()).set(k.slice('SCHILY.xattr.'.length), v);
    else (h.paxExtra ??= new Map()).set(k, v);
  }
}

/** PAX records that name things: NUL is not allowed in them (as Go's reader enforces). */
const TEXT_KEYS = new Set(['path', 'linkpath', 'uname', 'gname']);

function paxInteger(s: string, key: string, offset: number): number {
  const n = /^[0-9]{1,16}$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n)) throw invalidArgument(`tar header at offset ${offset}: PAX ${key} "${printable(s)}" is not a valid number`);
  return n;
}

function cutNul(b: Buffer): Buffer {
  const i = b.indexOf(0);
  return i < 0 ? b : b.subarray(0, i);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decode a header string: UTF-8 when valid, else Latin-1 (so no byte is silently replaced). */
function text(b: Buffer): string {
  if (isAscii(b)) return b.toString('latin1');
  try {
    return utf8.decode(b);
  } catch {
    return b.toString('latin1');
  }
}

function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if ((b[i] as number) > 0x7f) return false;
  return true;
}
