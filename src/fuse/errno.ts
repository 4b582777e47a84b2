// Linux errno values spoken by the FUSE protocol, the FuseErrno exception a RawFileSystem throws, and the
// mapping from any thrown value (CtrError codes, Node system errors, aborts) to the errno sent to the kernel.
// Pure: numbers are the Linux generic ABI (x86_64 and arm64 agree), not read from node:os.

import { CtrError, type ErrorCode } from '../errors.js';

/** The errno numbers this server uses (Linux asm-generic/errno-base.h and errno.h). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EOPNOTSUPP: 95,
  ENOTCONN: 107,
} as const;

/**
 * An errno a filesystem method throws to answer a request with that error (e.g. `new FuseErrno(Errno.ENOENT)`).
 * It is an answer, not a failure: it captures no stack trace. Walks of a root filesystem through overlayfs
 * throw thousands (ENODATA for the overlay xattrs asked of every lower directory, ENOENT for lookups), and
 * capturing the async stack took ~15 us of each ~19 (a profile of the cached-read benchmark: 229 ms of 385
 * spent answering GETXATTR went to constructing these).
 */
export class FuseErrno extends Error {
  readonly errno: number;
  constructor(errno: number, message?: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message ?? `errno ${errno}`);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'FuseErrno';
    this.errno = errno;
  }
}

/** How each CtrError code is reported to the kernel: remote and integrity failures are plain I/O errors. */
const byCode: Record<ErrorCode, number> = {
  NotFound: Errno.ENOENT,
  InvalidArgument: Errno.EINVAL,
  DigestMismatch: Errno.EIO,
  Unauthorized: Errno.EIO,
  Unavailable: Errno.EIO,
  Unsupported: Errno.EOPNOTSUPP,
  LimitExceeded: Errno.EFBIG,
  Conflict: Errno.EEXIST,
  FailedPrecondition: Errno.EIO,
  Aborted: Errno.EINTR,
  Internal: Errno.EIO,
};

/** Result of classifying a thrown value: the errno to send and whether it was an expected error. */
export interface ErrnoVerdict {
  errno: number;
  /** false for bugs and unknown exceptions (reported as EIO and logged); true for deliberate errors. */
  expected: boolean;
}

/** Map anything a handler threw to an errno: FuseErrno as is, CtrError by code, Node errors by name, else EIO. */
export function errnoOf(e: unknown): ErrnoVerdict {
  if (e instanceof FuseErrno) return { errno: e.errno, expected: true };
  if (e instanceof CtrError) return { errno: byCode[e.code], expected: e.code !== 'Internal' };
  if (e instanceof Error && e.name === 'AbortError') return { errno: Errno.EINTR, expected: true };
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in Errno) return { errno: Errno[code as keyof typeof Errno], expected: true };
  return { errno: Errno.EIO, expected: false };
}
