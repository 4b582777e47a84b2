// Typed errors with stable codes. Every failure the tool reports is one of these; an error about a
// particular operation carries it as fields (`op`, `subject`) and prints it as the head of its message
// ("fetch blob 127.0.0.1:5000/x@sha256:...: not found"), so code that needs the context reads the fields,
// never the text. FUSE handlers map them to errno (see fuse/errno.ts); the CLI prints
// `ctr-remote: <message>` and exits 1 (2 for usage errors), and `--json` prints the fields.

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

/** What a failure concerns: the operation (or the part of one) that failed and the thing it was done to. */
export interface ErrorContext {
  /** The operation, a short phrase: "rpull", "fetch blob", "unpack", "lazy layer". */
  op: string;
  /** The reference, digest, path, entry or id it concerns, as printed; absent when the op says it all. */
  subject?: string | undefined;
}

/** Options of a CtrError. */
export interface CtrErrorOptions extends Partial<ErrorContext> {
  /** The error this one reports or wraps. */
  cause?: unknown;
}

/** The one error class of the project: a stable code, a one-line message, an optional context and cause. */
export class CtrError extends Error {
  readonly code: ErrorCode;
  /** The operation that failed, when known; the message then starts with "op subject: ". */
  readonly op: string | undefined;
  /** The thing the operation concerns (see ErrorContext). */
  readonly subject: string | undefined;
  /** The message without its "op subject: " head. */
  readonly detail: string;
  /** `detail` is the message without the context; with `op`, the message is "op subject: detail". */
  constructor(code: ErrorCode, detail: string, options: CtrErrorOptions = {}) {
    const { cause, op, subject } = options;
    super(op === undefined ? detail : `${contextLabel({ op, subject })}: ${detail}`, 'cause' in options ? { cause } : undefined);
    this.name = `CtrError(${code})`;
    this.code = code;
    this.op = op;
    this.subject = op === undefined ? undefined : subject;
    this.detail = detail;
  }
}

/** "op subject" (or "op"): the head a context gives a message. */
export function contextLabel(context: ErrorContext): string {
  return context.subject === undefined || context.subject === '' ? context.op : `${context.op} ${context.subject}`;
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

/** A CtrError of `code` about `context` (message "op subject: detail"). */
export function errorAbout(code: ErrorCode, context: ErrorContext, detail: string, cause?: unknown): CtrError {
  return new CtrError(code, detail, { op: context.op, subject: context.subject, cause });
}

/**
 * Wrap `e` in `context` ("rpull 127.0.0.1:5000/x:1"), keeping its code; non-CtrErrors become Internal, an
 * AbortError Aborted. An error already about the same subject (by `sameSubject`, default: equal text) is not
 * named twice: its detail goes under the new op ("rpull R: resolve R: x" is "rpull R: x").
 */
export function withContext(context: ErrorContext, e: unknown, sameSubject: (a: string, b: string) => boolean = (a, b) => a === b): CtrError {
  const { op, subject } = context;
  if (e instanceof CtrError) {
    const same = e.subject !== undefined && subject !== undefined && sameSubject(e.subject, subject);
    return new CtrError(e.code, same ? e.detail : e.message, { op, subject, cause: e });
  }
  if (e instanceof Error && e.name === 'AbortError') return new CtrError('Aborted', 'aborted', { op, subject, cause: e });
  return new CtrError('Internal', e instanceof Error ? e.message : String(e), { op, subject, cause: e });
}
