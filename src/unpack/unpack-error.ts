// Errors an unpack finds itself ("unpack: hardlink "a" points outside the destination"): they carry the op
// 'unpack', so unpackLayer passes them on as they are instead of naming the entry a second time.
import { errorAbout, isCtrError, type CtrError, type ErrorCode } from '../errors.js';

/** The op of every error and warning of an unpack. */
export const UNPACK_OP = 'unpack';

/** An error of code `code` reported by the unpack itself: "unpack: <detail>". */
export function unpackError(code: ErrorCode, detail: string, cause?: unknown): CtrError {
  return errorAbout(code, { op: UNPACK_OP }, detail, cause);
}

/** True for an error that already says it is about the unpack (unpackError, or an entry's context). */
export function isUnpackError(e: unknown): boolean {
  return isCtrError(e) && e.op === UNPACK_OP;
}
