// `image import FILE.tar`: load an OCI image-layout archive (from `image export`, `ctr image export`,
// `skopeo copy ... oci-archive:` or BuildKit `type=oci`) into the store. Blobs stream straight into
// verified ingest files (each checked against the digest its path names); names are set only at the end,
// after checking that everything each image references arrived.
import { createReadStream } from 'node:fs';
import { invalidArgument, unsupported } from '../../errors.js';
import { Annotation } from '../../oci/media-types.js';
import type { Descriptor, Index } from '../../oci/types.js';
import type { Context } from '../context.js';
import { LayoutEndpoint } from '../../store/layout-endpoint.js';
import type { OciLayout } from '../../store/oci-layout.js';
import { readTar, type TarEntry } from '../../tar/reader.js';
import { CONTAINERD_IMAGE_NAME, importedName } from './archive-names.js';
import { MAX_MANIFEST_SIZE } from '../../oci/manifest-json.js';

/** What was imported. */
export interface ImportResult {
  images: { name: string; digest: string }[];
  /** Blobs stored (including ones the store already had). */
  blobs: number;
}

const BLOB_PATH = /^(?:\.\/)?blobs\/sha256\/([a-f0-9]{64})$/;

/** Import the archive `file` into the store; `baseName` names entries tagged only by tag. */
export async function importImages(ctx: Context, file: string, options: { baseName?: string; signal?: AbortSignal } = {}): Promise<ImportResult> {
  const store = await ctx.store();
  const release = await store.lease();
  try {
    const { index, blobs } = await readArchive(store, file, options.signal);
    const images: { name: string; descriptor: Descriptor }[] = [];
    for (const d of index.manifests) {
      const name = importedName(d.annotations, options.baseName);
      if (name !== undefined) images.push({ name, descriptor: stripArchiveNames(d) });
    }
    for (const { name, descriptor } of images) {
      await new LayoutEndpoint(store, name).tag(descriptor, await store.readBytes(descriptor.digest, MAX_MANIFEST_SIZE), options.signal);
    }
    return { images: images.map((i) => ({ name: i.name, digest: i.descriptor.digest })), blobs };
  } finally {
    await release();
  }
}

async function readArchive(store: OciLayout, file: string, signal?: AbortSignal): Promise<{ index: Index; blobs: number }> {
  let index: Index | undefined;
  let dockerArchive = false;
  let blobs = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20, ...(signal ? { signal } : {}) });
  for await (const entry of readTar(source, signal ? { signal } : {})) {
    const name = entry.header.name.replace(/^\.\//, '');
    const blob = BLOB_PATH.exec(name);
    if (entry.header.type === 'file' && blob?.[1]) {
      await storeBlob(store, `sha256:${blob[1]}`, entry, signal);
      blobs++;
    } else if (name === 'index.json') index = parseIndex(await readSmall(entry, file));
    else if (name === 'manifest.json') dockerArchive = true;
  }
  if (index) return { index, blobs };
  if (dockerArchive) throw unsupported(`${file} is a docker save archive; only OCI image-layout archives can be imported`);
  throw invalidArgument(`${file} is not an OCI image-layout archive (no index.json)`);
}

async function storeBlob(store: OciLayout, digest: string, entry: TarEntry, signal?: AbortSignal): Promise<void> {
  // A stored copy is kept only when it hashes right; a corrupt one is replaced by the archive's bytes.
  if ((await store.verify(digest, { size: entry.header.size, ...(signal ? { signal } : {}) })) === undefined) return;
  const w = await store.writer({ digest, size: entry.header.size, ...(signal ? { signal } : {}) });
  try {
    for await (const chunk of entry.body()) await w.write(chunk);
  } catch (e) {
    await w.abort();
    throw e;
  }
  await w.commit();
}

async function readSmall(entry: TarEntry, file: string): Promise<Buffer> {
  if (entry.header.size > MAX_MANIFEST_SIZE) throw invalidArgument(`${file}: index.json is larger than ${MAX_MANIFEST_SIZE} bytes`);
  const chunks: Buffer[] = [];
  for await (const c of entry.body()) chunks.push(c);
  return Buffer.concat(chunks);
}

function parseIndex(bytes: Buffer): Index {
  let index: Index;
  try {
    index = JSON.parse(bytes.toString('utf8')) as Index;
  } catch (e) {
    throw invalidArgument(`archive index.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(index.manifests)) throw invalidArgument('archive index.json has no manifests array');
  return index;
}

/** The descriptor without the naming annotations of the archive (the store adds its own). */
function stripArchiveNames(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  const kept = Object.entries(annotations ?? {}).filter(([k]) => k !== CONTAINERD_IMAGE_NAME && k !== Annotation.RefName);
  return kept.length ? { ...rest, annotations: Object.fromEntries(kept) } : rest;
}
