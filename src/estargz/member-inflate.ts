// Decompress the start of one gzip member (or zstd frame) without inflating what follows the bytes we need.
import { createGunzip } from 'node:zlib';
import { CtrError, invalidArgument } from '../errors.js';

/** Smallest and largest output piece of an inflate (zlib's default, and a few chunks of the default size). */
const MIN_PIECE = 16 << 10;
const MAX_PIECE = 8 << 20;
/** Decoded bytes past the last chunk's end after which an inflate is stopped (a bomb in a member's tail). */
export const TAIL_LIMIT = 1 << 20;

/**
 * Inflate `member` until `need` bytes are out and return exactly those (fewer only if the member ends first).
 * Throws InvalidArgument when the bytes are not gzip or the member is truncated before `need` bytes.
 */
export function inflatePrefix(member: Uint8Array, need: number, what: string, signal?: AbortSignal): Promise<Buffer> {
  if (need === 0) return signal?.aborted ? Promise.reject(new CtrError('Aborted', `${what}: aborted`, { cause: signal.reason })) : Promise.resolve(Buffer.alloc(0));
  return new Promise<Buffer>((resolve, reject) => {
    // output pieces as large as what is needed (zlib's default is 16 KiB): a 1 MiB member inflated in 16 KiB
    // pieces cost ~25% more CPU (a callback and a piece each), on the thread that also serves FUSE
    const z = createGunzip({ chunkSize: Math.min(Math.max(need, MIN_PIECE), MAX_PIECE) });
    // The first piece when it alone holds everything (small files: no copy); else the pieces are copied
    // into one buffer of `need` bytes as they come, so the member costs `need` bytes, not twice that.
    let first: Buffer | undefined;
    let out: Buffer | undefined;
    let got = 0;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (err) {
        z.destroy();
        return reject(err);
      }
      resolve((out ?? first ?? Buffer.alloc(0)).subarray(0, Math.min(need, got)));
    };
    const onAbort = () => finish(new CtrError('Aborted', `${what}: aborted`, { cause: signal?.reason }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    z.on('data', (d: Buffer) => {
      if (settled) {
        // the rest of the member (tar padding, the next header) is inflated to its end and dropped, which
        // costs less than destroying the stream mid-write (Node builds an error for the pending write: ~40%
        // of the time of a small member); a bomb past the chunks is stopped
        got += d.length;
        if (got - need > TAIL_LIMIT) z.destroy();
        return;
      }
      try {
        if (got === 0 && d.length >= need) first = d;
        else {
          out ??= Buffer.allocUnsafe(need);
          d.copy(out, got, 0, Math.min(d.length, need - got));
        }
        got += d.length;
        if (got >= need) finish();
      } catch (e) {
        finish(e as Error); // never thrown out of a zlib callback, where nothing could catch it
      }
    });
    z.on('end', () => finish(got >= need ? undefined : invalidArgument(`${what}: gzip member ends after ${got} of ${need} bytes`)));
    z.on('error', (e) => finish(got >= need ? undefined : invalidArgument(`${what}: bad gzip data: ${e.message}`, e)));
    z.end(member);
  });
}
