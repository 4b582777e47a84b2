// Serialize and parse the TOC JSON (stargz.index.json). Serialization matches the reference's
// json.MarshalIndent(toc, "", "\t"): struct field order, omitempty rules, sorted xattr keys and Go's string
// escaping, so that the same TOC always yields the same bytes and therefore the same TOC digest.
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md#toc-tocentries-and-footer
import { invalidArgument, limitExceeded } from '../errors.js';
import type { TOC, TOCEntry } from './toc-types.js';

/** Default upper bound on the uncompressed TOC JSON a reader accepts. */
export const DEFAULT_MAX_TOC_SIZE = 64 << 20;

const ENTRY_TYPES: ReadonlySet<string> = new Set(['dir', 'reg', 'symlink', 'hardlink', 'char', 'block', 'fifo', 'chunk']);
type Field = [key: keyof TOCEntry, json: string, kind: 'str' | 'num' | 'xattrs'];
// Go struct order of TOCEntry; innerOffset is the newer reference's field, written last.
const FIELDS: readonly Field[] = [
  ['name', 'name', 'str'],
  ['type', 'type', 'str'],
  ['size', 'size', 'num'],
  ['modtime', 'modtime', 'str'],
  ['linkName', 'linkName', 'str'],
  ['mode', 'mode', 'num'],
  ['uid', 'uid', 'num'],
  ['gid', 'gid', 'num'],
  ['userName', 'userName', 'str'],
  ['groupName', 'groupName', 'str'],
  ['offset', 'offset', 'num'],
  ['devMajor', 'devMajor', 'num'],
  ['devMinor', 'devMinor', 'num'],
  ['xattrs', 'xattrs', 'xattrs'],
  ['digest', 'digest', 'str'],
  ['chunkOffset', 'chunkOffset', 'num'],
  ['chunkSize', 'chunkSize', 'num'],
  ['chunkDigest', 'chunkDigest', 'str'],
  ['innerOffset', 'innerOffset', 'num'],
];

/** Serialize a TOC byte-for-byte like the reference (tab-indented, empty fields omitted). */
export function serializeTOC(toc: TOC): Buffer {
  const parts: string[] = ['{\n\t"version": ', String(toc.version), ',\n\t"entries": '];
  if (toc.entries.length === 0) parts.push('[]');
  else {
    parts.push('[\n');
    toc.entries.forEach((e, i) => {
      parts.push(serializeEntry(e), i === toc.entries.length - 1 ? '\n' : ',\n');
    });
    parts.push('\t]');
  }
  parts.push('\n}');
  return Buffer.from(parts.join(''), 'utf8');
}

function serializeEntry(e: TOCEntry): string {
  const lines: string[] = [];
  for (const [key, json, kind] of FIELDS) {
    const v = e[key];
    if (kind === 'str' && typeof v === 'string' && v !== '') lines.push(`\t\t\t"${json}": ${goString(v)}`);
    else if (kind === 'num' && typeof v === 'number' && v !== 0) lines.push(`\t\t\t"${json}": ${v}`);
    else if (kind === 'xattrs' && v && typeof v === 'object' && Object.keys(v).length > 0) {
      lines.push(`\t\t\t"${json}": ${serializeXattrs(v as Record<string, string>)}`);
    }
  }
  // name and type are never omitted (no omitempty in the reference).
  if (!e.name) lines.unshift(`\t\t\t"name": ""`);
  return `\t\t{\n${lines.join(',\n')}\n\t\t}`;
}

function serializeXattrs(x: Record<string, string>): string {
  const keys = Object.keys(x).sort(byUtf8);
  const body = keys.map((k) => `\t\t\t\t${goString(k)}: ${goString(x[k] ?? '')}`).join(',\n');
  return `{\n${body}\n\t\t\t}`;
}

// Go sorts map keys by byte order of their UTF-8 encoding.
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A JSON string literal escaped the way Go's encoding/json does (HTML-safe, U+2028/2029 escaped). */
export function goString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, '0')}`;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return `${out}"`;
}

/** Options for parseTOC. */
export interface ParseTOCOptions {
  /** Reject JSON larger than this many bytes. Default DEFAULT_MAX_TOC_SIZE (64 MiB). */
  maxSize?: number;
}

/** Parse and validate TOC JSON bytes; throws InvalidArgument (bad JSON/fields) or LimitExceeded (too big). */
export function parseTOC(json: Uint8Array, opts: ParseTOCOptions = {}): TOC {
  const max = opts.maxSize ?? DEFAULT_MAX_TOC_SIZE;
  if (json.length > max) throw limitExceeded(`TOC JSON is ${json.length} bytes, over the ${max}-byte limit`);
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (e) {
    throw invalidArgument(`corrupted TOC JSON: ${(e as Error).message}`, e);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalidArgument('corrupted TOC JSON: not an object');
  const obj = raw as { version?: unknown; entries?: unknown };
  if (obj.version !== 1) throw invalidArgument(`unsupported TOC version ${JSON.stringify(obj.version)} (want 1)`);
  if (!Array.isArray(obj.entries)) throw invalidArgument('corrupted TOC JSON: "entries" is not an array');
  return { version: 1, entries: obj.entries.map((e, i) => validateEntry(e, i)) };
}

const KNOWN_KEYS: ReadonlySet<string> = new Set(FIELDS.map(([key]) => key));
const NUM_KEYS: readonly string[] = FIELDS.filter(([, , kind]) => kind === 'num').map(([key]) => key);
const STR_KEYS: readonly string[] = FIELDS.filter(([, , kind]) => kind === 'str').map(([key]) => key);

function badEntry(i: number, what: string) {
  return invalidArgument(`corrupted TOC JSON: entry ${i}: ${what}`);
}

/** `sha256:` and 64 lowercase hex digits (a hand loop: a regex per digest was most of the validation of a large TOC). */
function isSha256(d: string): boolean {
  if (d.length !== 71 || !d.startsWith('sha256:')) return false;
  for (let k = 7; k < 71; k++) {
    const c = d.charCodeAt(k);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * Check one parsed entry and return it as a TOCEntry: the object JSON.parse made when every key is known
 * and set (the usual case: no second copy of a TOC of a million entries), else a copy without unknown
 * keys and nulls. Plain loops over the field lists: this runs once per entry of every TOC a mount opens.
 */
function validateEntry(e: unknown, i: number): TOCEntry {
  if (!e || typeof e !== 'object' || Array.isArray(e)) throw badEntry(i, 'not an object');
  const o = e as Record<string, unknown>;
  if (typeof o['name'] !== 'string') throw badEntry(i, '"name" is not a string');
  if (typeof o['type'] !== 'string' || !ENTRY_TYPES.has(o['type'])) throw badEntry(i, `unknown type ${JSON.stringify(o['type'])}`);
  for (let k = 0; k < NUM_KEYS.length; k++) {
    const key = NUM_KEYS[k] as string;
    const v = o[key];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw badEntry(i, `"${key}" is not a non-negative integer`);
  }
  for (let k = 0; k < STR_KEYS.length; k++) {
    const key = STR_KEYS[k] as string;
    const v = o[key];
    if (v !== undefined && v !== null && typeof v !== 'string') throw badEntry(i, `"${key}" is not a string`);
  }
  const x = o['xattrs'];
  if (x !== undefined && x !== null && !isStringRecord(x)) throw badEntry(i, '"xattrs" is not an object of base64 strings');
  const digest = o['digest'];
  if (typeof digest === 'string' && digest !== '' && !isSha256(digest)) throw badEntry(i, `"digest" ${JSON.stringify(digest)} is not a sha256 digest`);
  const chunkDigest = o['chunkDigest'];
  if (typeof chunkDigest === 'string' && chunkDigest !== '' && !isSha256(chunkDigest)) throw badEntry(i, `"chunkDigest" ${JSON.stringify(chunkDigest)} is not a sha256 digest`);
  let clean = true;
  for (const key in o) {
    if (!KNOWN_KEYS.has(key) || o[key] === null) {
      clean = false;
      break;
    }
  }
  if (clean) return o as unknown as TOCEntry;
  const out: Record<string, unknown> = {};
  for (const [key] of FIELDS) if (o[key] !== undefined && o[key] !== null) out[key] = o[key];
  return out as unknown as TOCEntry;
}

function isStringRecord(v: unknown): v is Record<string, string> {
  return !!v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}
