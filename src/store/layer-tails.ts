// The tail of each lazily mounted layer's blob (its TOC member and footer), saved when the TOC was fetched
// and verified, so that a mount opens the TOC again without asking the registry:
//   <root>/lazy/tails/<layer hex>     bytes [tocOffset, size) of the layer blob
// Content-addressed by the layer digest, shared by every image and snapshot that has the layer.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RangeReader } from '../content/range-reader.js';
import { invalidArgument } from '../errors.js';
import { writeFileAtomic } from '../host/atomic-file.js';
import { digestHex } from '../oci/digest.js';
import type { RootLayout } from './root-layout.js';

const tailPath = (paths: RootLayout, layerDigest: string) => join(paths.lazyTails, digestHex(layerDigest));

/** Save the tail [tocOffset, size) of a layer blob (atomic). */
export async function writeLayerTail(paths: RootLayout, layerDigest: string, tail: Buffer): Promise<void> {
  await mkdir(paths.lazyTails, { recursive: true });
  await writeFileAtomic(tailPath(paths, layerDigest), tail);
}

/** A RangeReader of a layer blob (of `size` bytes) that can only serve its saved tail (enough to open its TOC); undefined when none is saved. */
export async function openLayerTail(paths: RootLayout, layerDigest: string, size: number): Promise<RangeReader | undefined> {
  let tail: Buffer;
  try {
    tail = await readFile(tailPath(paths, layerDigest));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return new TailRangeReader(tail, size, layerDigest);
}

/** Serves reads that fall inside the last `tail.length` bytes of a blob of `size` bytes. */
class TailRangeReader implements RangeReader {
  private readonly start: number;
  constructor(
    private readonly tail: Buffer,
    readonly size: number,
    private readonly digest: string,
  ) {
    this.start = size - tail.length;
  }

  async readAt(offset: number, length: number): Promise<Buffer> {
    if (offset < this.start) throw invalidArgument(`layer ${this.digest}: saved tail starts at ${this.start}, read at ${offset}`);
    return this.tail.subarray(offset - this.start, Math.min(this.tail.length, offset - this.start + length));
  }
}
