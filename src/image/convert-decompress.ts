// Decompress a layer stream according to its media type (gzip, zstd or none), as a byte stream.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DecompressStream } from 'zstd-napi';
import { invalidArgument, unsupported } from '../errors.js';
import { layerCompression } from '../oci/media-types.js';

/** The uncompressed tar bytes of a layer blob stream of media type `mediaType`. */
export async function* decompressLayer(mediaType: string, blob: AsyncIterable<Buffer>, label: string): AsyncGenerator<Buffer> {
  const kind = layerCompression(mediaType);
  if (kind === undefined) throw unsupported(`layer ${label}: unsupported media type ${mediaType}`);
  if (kind === 'none') return yield* blob;
  const transform = kind === 'gzip' ? createGunzip() : new DecompressStream();
  const out = Readable.from(blob).pipe(transform);
  try {
    for await (const chunk of out) yield chunk as Buffer;
  } catch (e) {
    throw invalidArgument(`layer ${label}: not valid ${kind} data: ${(e as Error).message}`, e);
  } finally {
    transform.destroy();
  }
}
