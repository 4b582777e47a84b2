// What `image rpull` leaves behind besides the manifest and config in the store: a record of which layers
// are lazy (and why the others are not) and where its registry credentials come from (never a secret), and
// each lazy layer's blob tail (TOC member + footer) so that a mount can re-verify and read the TOC without
// asking the registry again.
//   <root>/lazy/images/<manifest hex>.json    the LazyImageRecord
//   <root>/lazy/tails/<layer hex>             bytes [tocOffset, size) of the layer blob

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../../errors.js';
import type { RangeReader } from '../../content/range-reader.js';
import { digestHex } from '../../oci/digest.js';
import type { CredentialSource } from '../../remote/credential-source.js';
import { writeFileAtomic } from '../../host/atomic-file.js';

/** How one layer of an rpulled image is provided. */
export interface LazyLayerRecord {
  digest: string;
  size: number;
  mediaType: string;
  /** 'lazy': fetched on demand through its TOC; 'full': the blob is in the store. */
  mode: 'lazy' | 'full';
  /** Why a layer is full (not eStargz, no annotation, ...). */
  reason?: string;
  /** The verified TOC digest of a lazy layer. */
  tocDigest?: string;
}

/** The record of one lazily pulled image. */
export interface LazyImageRecord {
  /** Store name (full normalized reference), also where lazy layers are fetched from. */
  name: string;
  manifestDigest: string;
  layers: LazyLayerRecord[];
  pulledAt: string;
  /** Where the rpull took its credentials from (absent in records of older versions). */
  credentials?: CredentialSource;
}

const recordPath = (root: string, manifestDigest: string) => join(root, 'lazy', 'images', `${digestHex(manifestDigest)}.json`);
const tailPath = (root: string, layerDigest: string) => join(root, 'lazy', 'tails', digestHex(layerDigest));

/** Save the record of an rpulled image (atomic). */
export async function writeLazyRecord(root: string, record: LazyImageRecord): Promise<void> {
  await mkdir(join(root, 'lazy', 'images'), { recursive: true });
  await writeFileAtomic(recordPath(root, record.manifestDigest), `${JSON.stringify(record, null, 2)}\n`);
}

/** The record of an rpulled image, or undefined when the image was not lazily pulled. */
export async function readLazyRecord(root: string, manifestDigest: string): Promise<LazyImageRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(root, manifestDigest), 'utf8')) as LazyImageRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Save the tail [tocOffset, size) of a layer blob (atomic). */
export async function writeLayerTail(root: string, layerDigest: string, tail: Buffer): Promise<void> {
  await mkdir(join(root, 'lazy', 'tails'), { recursive: true });
  await writeFileAtomic(tailPath(root, layerDigest), tail);
}

/** A RangeReader of a layer blob that can only serve its saved tail (enough to open its TOC). */
export async function openLayerTail(root: string, layerDigest: string, size: number): Promise<RangeReader | undefined> {
  let tail: Buffer;
  try {
    tail = await readFile(tailPath(root, layerDigest));
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
