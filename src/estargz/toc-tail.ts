// The TOC tail: the bytes at the end of an eStargz or zstd:chunked blob from the TOC's start (its gzip member,
// or its skippable frame) through the footer. Our converter writes its size as the layer annotation
// `containerd.io/snapshot/stargz/toc.tail-size` (oci/media-types.ts), so that a lazy puller's first Range
// request fetches footer and TOC together, however large the TOC; without it the puller reads a fixed tail
// window and asks again when the TOC is larger. The footer stays the authority on where the TOC is: the
// annotation only sizes that first request (a wrong one costs a request or some bytes, never a wrong TOC).
import { DEFAULT_MAX_TOC_SIZE } from './toc-json.js';
import { FOOTER_SIZE } from './footer.js';
import { ZSTD_FOOTER_FRAME_SIZE } from './zstd-chunked-footer.js';

/** The annotation's value for a blob of `blobSize` bytes whose TOC starts at `tocStart`. */
export function tocTailSize(blobSize: number, tocStart: number): string {
  return String(blobSize - tocStart);
}

/**
 * The first request's size from an annotation value: undefined when there is none or it is not a decimal
 * byte count; else at least the largest footer and at most a TOC of the largest size we accept plus its
 * footer (an untrusted manifest sizes one request, never an unbounded download).
 */
export function tocTailGuess(value: string | undefined): number | undefined {
  if (value === undefined || !/^[1-9][0-9]{0,15}$/.test(value)) return undefined;
  return Math.min(Math.max(Number(value), LARGEST_FOOTER), DEFAULT_MAX_TOC_SIZE + LARGEST_FOOTER);
}

/** The larger of the two formats' footers (eStargz's 51 bytes, zstd:chunked's 48-byte frame). */
const LARGEST_FOOTER = Math.max(FOOTER_SIZE, ZSTD_FOOTER_FRAME_SIZE);
