// One zstd frame per payload (zstd:chunked), via the zstd-napi binding.
// Spec: https://github.com/facebook/zstd/blob/dev/doc/zstd_compression_format.md
import { compress, decompress } from 'zstd-napi';

/** Compress `data` into a single zstd frame at `level`. */
export function compressFrame(data: Uint8Array, level: number): Buffer {
  return compress(data, { compressionLevel: level });
}

/** Decompress one or more concatenated zstd frames. */
export function decompressFrames(data: Uint8Array): Buffer {
  return decompress(data);
}
