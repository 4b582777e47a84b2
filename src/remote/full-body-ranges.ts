// A registry may ignore the Range header and answer 200 with the whole blob (RFC 9110 §14.2 lets a server
// ignore Range). Rather than buffering the blob, stream the body, copy out only the wanted bytes, and
// abandon the rest of the body once the last wanted byte has arrived: memory stays bounded by the ranges.
import { unavailable } from '../errors.js';
import type { ByteRange } from './byte-ranges.js';
import { discardBody, markTransient, type HttpResponse } from './transport.js';

/** Cut `wanted` (lengths > 0) out of a 200 full-blob body as it streams; throws Unavailable (transient) when the body ends short. */
export async function rangesFromFullBody(res: HttpResponse, wanted: readonly ByteRange[]): Promise<Buffer[]> {
  const out = wanted.map((r) => Buffer.allocUnsafe(r.length));
  const end = Math.max(...wanted.map((r) => r.offset + r.length));
  let pos = 0;
  try {
    for await (const raw of res.body) {
      const chunk = raw as Buffer;
      copyOverlaps(chunk, pos, wanted, out);
      pos += chunk.length;
      if (pos >= end) break;
    }
  } finally {
    discardBody(res);
  }
  if (pos < end) throw markTransient(unavailable(`full-body answer ended at byte ${pos}, before byte ${end - 1}`));
  return out;
}

/** Copy the part of `chunk` (which starts at blob offset `pos`) that falls in each wanted range. */
function copyOverlaps(chunk: Buffer, pos: number, wanted: readonly ByteRange[], out: Buffer[]): void {
  const chunkEnd = pos + chunk.length;
  wanted.forEach((r, i) => {
    const from = Math.max(r.offset, pos);
    const to = Math.min(r.offset + r.length, chunkEnd);
    if (from < to) chunk.copy(out[i]!, from - r.offset, from - pos, to - pos);
  });
}
