// One zstd frame per payload (zstd:chunked), via the zstd-napi binding.
// Spec: https://github.com/facebook/zstd/blob/dev/doc/zstd_compression_format.md
// Decompression of untrusted frames is capped: decompressUpTo never produces (or allocates) more than its
// limit whatever the frames declare, and the window a frame may ask for is bounded (WINDOW_LOG_MAX), so a
// zstd bomb costs at most the limit. zstd-napi's own decompress() allocates what the frame header claims.
import { createRequire } from 'node:module';
import type * as ZstdBinding from 'zstd-napi/binding.js';
import type * as ZstdNapi from 'zstd-napi';

// The native addon is loaded on first use (dlopen costs every process ~6 ms; most never meet a zstd layer).
const load = createRequire(import.meta.url);
let loaded: typeof ZstdBinding | undefined;
const zstd = (): typeof ZstdBinding => (loaded ??= load('zstd-napi/binding.js') as typeof ZstdBinding);

/** Largest window (log2 bytes) a frame may ask the decoder to allocate: 32 MiB (zstd's default limit is 128 MiB). */
const WINDOW_LOG_MAX = 25;

/** Compress `data` into a single zstd frame at `level`. */
export function compressFrame(data: Uint8Array, level: number): Buffer {
  return (load('zstd-napi') as typeof ZstdNapi).compress(data, { compressionLevel: level });
}

/** One decoding context for the process, reset before each use (decompressUpTo is synchronous). */
let shared: ZstdBinding.DCtx | undefined;

function context(): ZstdBinding.DCtx {
  if (!shared) {
    shared = new (zstd().DCtx)();
    shared.setParameter(zstd().DParameter.windowLogMax, WINDOW_LOG_MAX);
  } else shared.reset(zstd().ResetDirective.sessionOnly); // keeps the window limit
  return shared;
}

/** The content size the first frame of `data` declares, or undefined (not declared, or not a frame header). */
function declaredSize(data: Uint8Array): number | undefined {
  try {
    return zstd().getFrameContentSize(data) ?? undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decompress one or more concatenated zstd frames, stopping once `limit` bytes are out: the result is all
 * of the content when it is shorter, else exactly its first `limit` bytes. Throws on malformed data. A
 * declared content size only sizes the first output buffer (never more than `limit`); it is not trusted.
 */
export function decompressUpTo(data: Uint8Array, limit: number): Buffer {
  const dctx = context();
  const parts: Buffer[] = [];
  let produced = 0;
  let input = data;
  const declared = declaredSize(data);
  let size = Math.min(limit, declared !== undefined && declared > 0 ? declared : Math.max(64 << 10, data.length * 4));
  while (produced < limit && input.length > 0) {
    const out = Buffer.allocUnsafe(Math.min(size, limit - produced));
    const [, wrote, consumed] = dctx.decompressStream(out, input);
    if (wrote === 0 && consumed === 0) throw new Error('zstd data makes no progress (truncated frame?)');
    if (wrote > 0) parts.push(out.subarray(0, wrote));
    produced += wrote;
    input = input.subarray(consumed);
    size = Math.min(size * 2, 16 << 20);
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, produced);
}
