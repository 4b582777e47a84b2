// `content get DIGEST`: a blob's bytes, verified. The blob is hashed whole before its first byte is written,
// so a corrupt blob writes nothing (DigestMismatch naming the digest and what it really hashes to); the
// bytes written are hashed again as they go, against a change in between.
import { digestMismatch } from '../../errors.js';
import { digestHex } from '../../oci/digest.js';
import { verifiedStream } from '../../content/verified-stream.js';
import type { Context } from '../context.js';

/** Where the bytes go (stdout). */
export interface ContentSink {
  write(chunk: Buffer): unknown;
}

/** Write the verified bytes of blob `digest` to `out` (see module comment); returns their count. NotFound, DigestMismatch. */
export async function getContent(ctx: Context, digest: string, out: ContentSink, options: { signal?: AbortSignal } = {}): Promise<number> {
  digestHex(digest);
  const store = await ctx.store();
  const { size } = await store.info(digest);
  const problem = await store.verify(digest, { size, ...(options.signal ? { signal: options.signal } : {}) });
  if (problem === 'missing') await store.info(digest); // deleted meanwhile: NotFound
  if (problem !== undefined) throw digestMismatch(`blob ${digest} in ${store.dir} is corrupt: ${problem}`);
  const source = await store.stream(digest, options.signal ? { signal: options.signal } : {});
  for await (const chunk of verifiedStream({ digest, size }, source)) await writeChunk(out, chunk);
  return size;
}

/** Write one chunk, waiting for a full stream to drain. */
async function writeChunk(out: ContentSink, chunk: Buffer): Promise<void> {
  const ok = out.write(chunk);
  const stream = out as Partial<NodeJS.WritableStream>;
  if (ok === false && typeof stream.once === 'function') await new Promise<void>((resolve) => stream.once!('drain', () => resolve()));
}
