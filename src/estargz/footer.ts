// The eStargz footer: an empty gzip member whose extra field carries the TOC offset.
// Spec: https://github.com/containerd/stargz-snapshotter/blob/main/docs/estargz.md#footer
import { invalidArgument } from '../errors.js';

/** Size of the current footer (gzip extra field with an "SG" subfield header). */
export const FOOTER_SIZE = 51;
/** Size of the legacy stargz footer (extra field is the bare 22-byte payload). */
export const LEGACY_FOOTER_SIZE = 47;

const MAGIC = 'STARGZ';
const PAYLOAD_LEN = 16 + MAGIC.length; // "%016x" + "STARGZ"
// An empty stored deflate block (BFINAL=1, LEN=0, NLEN=0xffff), then CRC32 = 0 and ISIZE = 0.
const EMPTY_BODY = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);

/** Which footer flavour a blob ended with. */
export type FooterKind = 'estargz' | 'legacy';

/** Build the 51-byte footer that points at the TOC member starting at `tocOffset`. */
export function buildFooter(tocOffset: number): Buffer {
  return buildGzipWithExtra(sgSubfield(tocOffset));
}

/** Build the 47-byte legacy stargz footer (tests and old-format fixtures). */
export function buildLegacyFooter(tocOffset: number): Buffer {
  return buildGzipWithExtra(Buffer.from(payload(tocOffset), 'latin1'));
}

/** Parse a 51-byte footer; returns the TOC offset. Throws InvalidArgument naming what is wrong. */
export function parseFooter(buf: Uint8Array): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length !== FOOTER_SIZE) throw invalidArgument(`eStargz footer must be ${FOOTER_SIZE} bytes, got ${b.length}`);
  const extra = gzipExtra(b, 'eStargz footer');
  if (extra.length !== 4 + PAYLOAD_LEN || extra[0] !== 0x53 || extra[1] !== 0x47) {
    throw invalidArgument('eStargz footer: extra field lacks the "SG" subfield');
  }
  if (extra.readUInt16LE(2) !== PAYLOAD_LEN) throw invalidArgument('eStargz footer: bad SG subfield length');
  return parsePayload(extra.subarray(4), 'eStargz footer');
}

/** Parse a 47-byte legacy footer; returns the TOC offset. */
export function parseLegacyFooter(buf: Uint8Array): number {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length !== LEGACY_FOOTER_SIZE) {
    throw invalidArgument(`legacy stargz footer must be ${LEGACY_FOOTER_SIZE} bytes, got ${b.length}`);
  }
  const extra = gzipExtra(b, 'legacy stargz footer');
  if (extra.length !== PAYLOAD_LEN) throw invalidArgument('legacy stargz footer: bad extra field size');
  return parsePayload(extra, 'legacy stargz footer');
}

/**
 * Find the footer at the end of `tail` (the last ≥51 bytes of a blob, or all of a smaller one): tries the
 * 51-byte footer, then the 47-byte legacy one. Returns the TOC offset and the footer's size.
 */
export function locateFooter(tail: Uint8Array): { tocOffset: number; footerSize: number; kind: FooterKind } {
  const errors: string[] = [];
  if (tail.length >= FOOTER_SIZE) {
    try {
      return { tocOffset: parseFooter(tail.subarray(tail.length - FOOTER_SIZE)), footerSize: FOOTER_SIZE, kind: 'estargz' };
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (tail.length >= LEGACY_FOOTER_SIZE) {
    try {
      const tocOffset = parseLegacyFooter(tail.subarray(tail.length - LEGACY_FOOTER_SIZE));
      return { tocOffset, footerSize: LEGACY_FOOTER_SIZE, kind: 'legacy' };
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length === 0) throw invalidArgument(`blob of ${tail.length} bytes is smaller than an eStargz footer`);
  throw invalidArgument(`not an eStargz blob: ${errors.join('; ')}`);
}

function payload(tocOffset: number): string {
  if (!Number.isSafeInteger(tocOffset) || tocOffset < 0) throw invalidArgument(`invalid TOC offset ${tocOffset}`);
  return tocOffset.toString(16).padStart(16, '0') + MAGIC;
}

function sgSubfield(tocOffset: number): Buffer {
  const sub = Buffer.alloc(4 + PAYLOAD_LEN);
  sub.write('SG', 0, 'latin1');
  sub.writeUInt16LE(PAYLOAD_LEN, 2);
  sub.write(payload(tocOffset), 4, 'latin1');
  return sub;
}

// RFC 1952 member header: ID1 ID2 CM=8 FLG=FEXTRA, MTIME=0, XFL=0, OS=255, XLEN, extra; then the empty body.
function buildGzipWithExtra(extra: Buffer): Buffer {
  const head = Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff, 0, 0]);
  head.writeUInt16LE(extra.length, 10);
  return Buffer.concat([head, extra, EMPTY_BODY]);
}

function gzipExtra(b: Buffer, what: string): Buffer {
  if (b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 0x08) throw invalidArgument(`${what}: not a gzip member`);
  if (((b[3] ?? 0) & 0x04) === 0) throw invalidArgument(`${what}: gzip member has no extra field`);
  const xlen = b.readUInt16LE(10);
  if (12 + xlen > b.length) throw invalidArgument(`${what}: extra field overruns the footer`);
  return b.subarray(12, 12 + xlen);
}

function parsePayload(p: Buffer, what: string): number {
  const text = p.toString('latin1');
  if (!text.endsWith(MAGIC)) throw invalidArgument(`${what}: magic string STARGZ not found`);
  const hex = text.slice(0, 16);
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) throw invalidArgument(`${what}: TOC offset ${JSON.stringify(hex)} is not hex`);
  const off = Number.parseInt(hex, 16);
  if (!Number.isSafeInteger(off)) throw invalidArgument(`${what}: TOC offset 0x${hex} is too large`);
  return off;
}
