// A pass-through stream that checks what flows through it against a descriptor: more bytes than the
// size, fewer, or a different sha256 raise DigestMismatch at the point where it is known.
import { createHash } from 'node:crypto';
import { digestMismatch } from '../errors.js';
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
