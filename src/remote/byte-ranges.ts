// HTTP Range plumbing for blob reads: the `Range` header of several ranges, `Content-Range` parsing and
// `multipart/byteranges` bodies. RFC 9110 §14 and §14.6 (https://www.rfc-editor.org/rfc/rfc9110#section-14.6).
import { CtrError } from '../errors.js';

/** A byte range of a blob: `length` bytes from `offset`. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** A received piece of a blob: its start offset and bytes. */
export interface RangePart {
  offset: number;
  data: Buffer;
}

/** `bytes=a-b,c-d` for the given ranges (lengths must be > 0). */
export function rangeHeader(ranges: readonly ByteRange[]): string {
  return `bytes=${ranges.map((r) => `${r.offset}-${r.offset + r.length - 1}`).join(',')}`;
}

/** Parse `bytes a-b/size` (size may be `*`); undefined when malformed. */
export function parseContentRange(v: string | undefined): { start: number; end: number; size?: number } | undefined {
  const m = v === undefined ? null : /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(v);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return undefined;
  return { start, end, ...(m[3] !== '*' ? { size: Number(m[3]) } : {}) };
}

/** The boundary parameter of a `multipart/byteranges` content type, or undefined for other types. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\/byteranges/i.test(contentType)) return undefined;
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m?.[1] ?? m?.[2];
}

/** Split a `multipart/byteranges` body into parts; throws Unavailable on a malformed body. */
export function parseMultipartByteRanges(body: Buffer, boundary: string): RangePart[] {
  const bad = (why: string) => new CtrError('Unavailable', `malformed multipart/byteranges response: ${why}`);
  const delim = Buffer.from(`--${boundary}`);
  const parts: RangePart[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw bad('no boundary');
  for (;;) {
    pos += delim.length;
    if (body.subarray(pos, pos + 2).toString() === '--') return parts;
    const headEnd = body.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw bad('part without header end');
    const head = body.subarray(pos, headEnd).toString('latin1');
    const cr = /content-range:\s*([^\r\n]+)/i.exec(head);
    const range = parseContentRange(cr?.[1]);
    if (!range) throw bad('part without a valid Content-Range');
    const dataStart = headEnd + 4;
    const dataEnd = dataStart + (range.end - range.start + 1);
    if (dataEnd > body.length) throw bad('part shorter than its Content-Range');
    parts.push({ offset: range.start, data: body.subarray(dataStart, dataEnd) });
    pos = body.indexOf(delim, dataEnd);
    if (pos < 0) throw bad('missing closing boundary');
  }
}

/** Cut each wanted range out of the received parts; throws Unavailable when a range is not covered. */
export function sliceRanges(parts: readonly RangePart[], wanted: readonly ByteRange[], blobSize?: number): Buffer[] {
  return wanted.map((w) => {
    const end = blobSize === undefined ? w.offset + w.length : Math.min(w.offset + w.length, blobSize);
    const p = parts.find((q) => q.offset <= w.offset && q.offset + q.data.length >= end);
    if (!p) throw new CtrError('Unavailable', `registry response does not cover bytes ${w.offset}-${end - 1}`);
    return p.data.subarray(w.offset - p.offset, end - p.offset);
  });
}
