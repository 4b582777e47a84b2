// Typed errors with stable codes. Every failure the tool reports is one of these, wrapped with the
// operation/ref/digest it concerns. FUSE handlers map them to errno (see fuse/errno.ts); the CLI prints
// `ctr-remote: <message>` and exits 1 (2 for usage errors).

/** Stable error codes; scripts may match on them in `--json` output. */
export type ErrorCode =
  | 'NotFound'
  | 'InvalidArgument'
  | 'DigestMismatch'
  | 'Unauthorized'
  | 'Unavailable'
  | 'Unsupported'
  | 'LimitExceeded'
  | 'Conflict'
  | 'FailedPrecondition'
  | 'Aborted'
  | 'Internal';

/** The one error class of the project: a stable code, a one-line message, an optional cause. */
export class CtrError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = `CtrError(${code})`;
    this.code = code;
  }
}

/** Narrow an unknown thrown value to a CtrError, optionally of one code. */
export function isCtrError(e: unknown, code?: ErrorCode): e is CtrError {
  return e instanceof CtrError && (code === undefined || e.code === code);
}

export const notFound = (msg: string, cause?: unknown) => new CtrError('NotFound', msg, { cause });
export const invalidArgument = (msg: string, cause?: unknown) => new CtrError('InvalidArgument', msg, { cause });
export const digestMismatch = (msg: string, cause?: unknown) => new CtrError('DigestMismatch', msg, { cause });
export const unauthorized = (msg: string, cause?: unknown) => new CtrError('Unauthorized', msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new CtrError('Unavailable', msg, { cause });
export const unsupported = (msg: string, cause?: unknown) => new CtrError('Unsupported', msg, { cause });
export const limitExceeded = (msg: string, cause?: unknown) => new CtrError('LimitExceeded', msg, { cause });
export const conflict = (msg: string, cause?: unknown) => new CtrError('Conflict', msg, { cause });
export const failedPrecondition = (msg: string, cause?: unknown) => new CtrError('FailedPrecondition', msg, { cause });

/** Prefix an error's message with context ("pull 127.0.0.1:5000/x:1") keeping its code; non-CtrErrors become Internal. */
export function withContext(context: string, e: unknown): CtrError {
  if (e instanceof CtrError) return new CtrError(e.code, `${context}: ${e.message}`, { cause: e });
  if (e instanceof Error && e.name === 'AbortError') return new CtrError('Aborted', `${context}: aborted`, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new CtrError('Internal', `${context}: ${msg}`, { cause: e });
}
