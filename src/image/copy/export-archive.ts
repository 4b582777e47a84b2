// `image export FILE.tar REF...`: write store images as an OCI image-layout archive (the format of
// `skopeo copy ... oci-archive:` and `ctr image export`): oci-layout, index.json, then the blobs.
// The archive is written to a temp file and renamed, so FILE is never left half-written; every blob is
// hashed on its way in, so a corrupt store blob fails the export instead of being shipped.
import { createWriteStream } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { digestMismatch, isCtrError, notFound } from '../../errors.js';
import { ownedName, removeDeadOwned } from '../../host/owned-names.js';
import { MediaType } from '../../oci/media-types.js';
import type { Descriptor, Index } from '../../oci/types.js';
import type { Context } from '../context.js';
import { reachableDigests } from '../../store/gc.js';
import type { OciLayout } from '../../store/oci-layout.js';
import type { TarHeader } from '../../tar/header.js';
import { writeTar, type TarWriteEntry } from '../../tar/writer.js';
import { archiveAnnotations } from './archive-names.js';
import { normalizeName } from '../location.js';
import { verifiedStream } from '../../content/verified-stream.js';

/** What was exported. */
export interface ExportResult {
  file: string;
  images: { name: string; digest: string }[];
  /** Archive size in bytes. */
  size: number;
}

/** Export the store images `refs` to the archive `file`. */
export async function exportImages(ctx: Context, file: string, refs: string[], options: { signal?: AbortSignal } = {}): Promise<ExportResult> {
  const store = await ctx.store();
  const images: { name: string; descriptor: Descriptor }[] = [];
  for (const name of refs.map(normalizeName)) images.push({ name, descriptor: await store.get(name) });
  const digests = await reachableDigests(store, images.map((i) => i.descriptor));
  for (const digest of digests) {
    if (!(await store.has(digest))) throw notFound(`blob ${digest} is not in the store (a lazily pulled layer?); pull the image fully before exporting`);
  }
  const index: Index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map(({ name, descriptor }) => ({ ...descriptor, annotations: { ...descriptor.annotations, ...archiveAnnotations(name) } })),
  };
  const tmpPrefix = `${basename(file)}.tmp-`;
  await removeDeadOwned(dirname(resolve(file)), [tmpPrefix]); // what a killed export of this file left
  const tmp = join(dirname(resolve(file)), ownedName(tmpPrefix));
  let size = 0;
  const counted = async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      size += c.length;
      yield c;
    }
  };
  try {
    await pipeline(Readable.from(counted(writeTar(archiveEntries(store, index, [...digests]), options))), createWriteStream(tmp), options);
    await rename(tmp, file);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  return { file, images: images.map((i) => ({ name: i.name, digest: i.descriptor.digest })), size };
}

async function* archiveEntries(store: OciLayout, index: Index, digests: string[]): AsyncGenerator<TarWriteEntry> {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v));
  const layoutFile = json({ imageLayoutVersion: '1.0.0' });
  yield { header: fileHeader('oci-layout', layoutFile.length), body: layoutFile };
  const indexFile = json(index);
  yield { header: fileHeader('index.json', indexFile.length), body: indexFile };
  yield { header: dirHeader('blobs/') };
  yield { header: dirHeader('blobs/sha256/') };
  for (const digest of digests.sort()) {
    const { size } = await store.info(digest);
    yield { header: fileHeader(`blobs/sha256/${digest.slice('sha256:'.length)}`, size), body: verifiedBlob(store, { digest, size }) };
  }
}

/** A stored blob's bytes, hashed as they go into the archive: a corrupt blob fails the export. */
async function* verifiedBlob(store: OciLayout, blob: { digest: string; size: number }): AsyncGenerator<Buffer> {
  try {
    yield* verifiedStream(blob, await store.stream(blob.digest));
  } catch (e) {
    if (!isCtrError(e, 'DigestMismatch')) throw e;
    throw digestMismatch(`${e.message.replace(/^blob \S+ /, `blob ${blob.digest} in ${store.dir} `)}; pull the image again to replace it`, e);
  }
}

function fileHeader(name: string, size: number): TarHeader {
  return { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 };
}

function dirHeader(name: string): TarHeader {
  return { name, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0 };
}
