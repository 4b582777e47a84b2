// Decompress a layer stream according to its media type (gzip, zstd or none), as a byte stream.
// The source is fed to the decompressor through stream.pipeline, never `.pipe()`: pipe() forwards no
// errors, so a source that failed (a digest mismatch, an abort) emitted an 'error' nobody listened to and
// crashed the process. Here a source error ends the output with that same error, and a decompressor error
// becomes InvalidArgument naming the layer.
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createRequire } from 'node:module';
import type * as ZstdNapi from 'zstd-napi';
import { invalidArgument, unsupported } from '../errors.js';
import { layerCompression } from './media-types.js';

/** The uncompressed tar bytes of a layer blob stream of media type `mediaType`. */
export async function* decompressLayer(mediaType: string, blob: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  const kind = layerCompression(mediaType);
  if (kind === undefined) throw unsupported(`layer ${label}: unsupported media type ${mediaType}`);
  if (kind === 'none') return yield* blob;
  const transform = kind === 'gzip' ? createGunzip() : new (createRequire(import.meta.url)('zstd-napi') as typeof ZstdNapi).DecompressStream() /* the addon loads on first use */;
  let sourceError: { error: unknown } | undefined;
  async function* source(): AsyncGenerator<Buffer> {
    try {
      yield* blob;
    } catch (error) {
      sourceError = { error };
      throw error;
    }
  }
  // The callback keeps pipeline's own error from being unhandled; the error reaches us through `out`.
  const out: Readable = pipeline(Readable.from(source(), { objectMode: false }), transform, () => {});
  try {
    for await (const chunk of out) yield chunk as Buffer;
  } catch (e) {
    if (sourceError) throw sourceError.error;
    throw invalidArgument(`layer ${label}: not valid ${kind} data: ${(e as Error).message}`, e);
  } finally {
    transform.destroy();
  }
}
