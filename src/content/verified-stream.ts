// A pass-through stream that checks what flows through it against a descriptor: more bytes than the
// size, fewer, or a different sha256 raise DigestMismatch at the point where it is known.
import { createHash } from 'node:crypto';
import { digestMismatch, isCtrError } from '../errors.js';
import type { Descriptor } from '../oci/types.js';

/** Yield `source`'s chunks, verifying size and digest against `desc`; `onBytes` sees the running total. */
export async function* verifiedStream(
  desc: Pick<Descriptor, 'digest' | 'size'>,
  source: AsyncIterable<Buffer>,
  onBytes?: (done: number) => void,
): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  let done = 0;
  for await (const chunk of source) {
    done += chunk.length;
    if (done > desc.size) throw digestMismatch(`blob ${desc.digest} is larger than its descriptor's ${desc.size} bytes`);
    hash.update(chunk);
    onBytes?.(done);
    yield chunk;
  }
  if (done !== desc.size) throw digestMismatch(`blob ${desc.digest} is truncated: got ${done} of ${desc.size} bytes`);
  const actual = `sha256:${hash.digest('hex')}`;
  if (actual !== desc.digest) throw digestMismatch(`blob ${desc.digest} has wrong content: its sha256 is ${actual}`);
}

/** Yield `source`'s chunks, reporting the running total and stopping at more bytes than `desc.size` (no hashing). */
export async function* countedStream(
  desc: Pick<Descriptor, 'digest' | 'size'>,
  source: AsyncIterable<Buffer>,
  onBytes?: (done: number) => void,
): AsyncGenerator<Buffer> {
  let done = 0;
  for await (const chunk of source) {
    done += chunk.length;
    if (done > desc.size) throw digestMismatch(`blob ${desc.digest} is larger than its descriptor's ${desc.size} bytes`);
    onBytes?.(done);
    yield chunk;
  }
}

/** Read a whole (small) blob from `source` into memory, verified. */
export async function readVerified(desc: Pick<Descriptor, 'digest' | 'size'>, source: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of verifiedStream(desc, source)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Give `consume` the verified bytes of `desc` from `source`, and make sure the whole blob was checked: when
 * `consume` stops early, the rest is read and hashed. When `consume` fails (a decompressor or tar error
 * caused by a flipped byte, long before the digest could be known) and the blob turns out corrupt, the
 * DigestMismatch is thrown instead: the cause, not its symptom. An abort is rethrown without reading on.
 */
export async function consumeVerified<T>(
  desc: Pick<Descriptor, 'digest' | 'size'>,
  source: AsyncIterable<Buffer>,
  consume: (chunks: AsyncIterable<Buffer>) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  const it = verifiedStream(desc, source)[Symbol.asyncIterator]();
  let ended = false;
  let failure: unknown; // what the verifier threw, seen by whoever was reading
  const next = async (): Promise<IteratorResult<Buffer>> => {
    try {
      const r = await it.next();
      if (r.done) ended = true;
      return r;
    } catch (e) {
      ended = true;
      failure ??= e;
      throw e;
    }
  };
  // The consumer may stop iterating (return) without closing the blob: we still read its rest.
  const view: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: () => ({ next, return: async () => ({ done: true, value: undefined }) }) };
  const drain = async () => {
    while (!ended) {
      signal?.throwIfAborted();
      await next();
    }
  };
  try {
    const result = await consume(view);
    await drain();
    return result;
  } catch (e) {
    if (!ended && !signal?.aborted && !isCtrError(e, 'Aborted')) await drain().catch(() => undefined);
    if (isCtrError(failure, 'DigestMismatch')) throw failure;
    throw e;
  } finally {
    if (!ended) await it.return?.(undefined);
  }
}
