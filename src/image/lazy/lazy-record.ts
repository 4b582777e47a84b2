// What `image rpull` leaves behind besides the manifest and config in the store (and the layers' tails,
// store/layer-tails.ts): a record of which layers are lazy (and why the others are not) and where its
// registry credentials come from (never a secret).
//   <root>/lazy/images/<manifest hex>.json    the LazyImageRecord

import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex } from '../../oci/digest.js';
import type { CredentialSource } from '../../remote/credential-source.js';
import type { PrefetchSpan } from '../../estargz/prefetch-span.js';
import { writeFileAtomic } from '../../host/atomic-file.js';
import type { RootLayout } from '../../store/root-layout.js';

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
  /** Where a lazy layer's prefetch region lies in its blob (estargz/prefetch-span.ts); absent without one. */
  prefetch?: PrefetchSpan;
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

const recordPath = (root: RootLayout, manifestDigest: string) => join(root.lazyImages, `${digestHex(manifestDigest)}.json`);

/** Save the record of an rpulled image (atomic). */
export async function writeLazyRecord(root: RootLayout, record: LazyImageRecord): Promise<void> {
  await mkdir(root.lazyImages, { recursive: true });
  await writeFileAtomic(recordPath(root, record.manifestDigest), `${JSON.stringify(record, null, 2)}\n`);
}

/** The record of an rpulled image, or undefined when the image was not lazily pulled. */
export async function readLazyRecord(root: RootLayout, manifestDigest: string): Promise<LazyImageRecord | undefined> {
  try {
    return JSON.parse(await readFile(recordPath(root, manifestDigest), 'utf8')) as LazyImageRecord;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
