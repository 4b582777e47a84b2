import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

/** sha256 digest string ("sha256:<hex>") of some bytes. */
export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** True when `d` is a well-formed sha256 digest (the only algorithm the tool produces or accepts). */
export function isDigest(d: string): boolean {
  return DIGEST_RE.test(d);
}

/** Validate a digest string and return its hex part; throws InvalidArgument naming the bad value. */
export function digestHex(d: string): string {
  if (!DIGEST_RE.test(d)) throw invalidArgument(`invalid digest ${JSON.stringify(d)} (want sha256:<64 hex>)`);
  return d.slice('sha256:'.length);
}
