// Helpers for remote tests: random blobs and hand-written OCI manifests (no real image building here).
import { randomBytes } from 'node:crypto';
import { sha256Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import type { Descriptor } from '../../src/oci/types.js';

/** A blob's bytes and descriptor. */
export interface TestBlob {
  desc: Descriptor;
  data: Buffer;
}

/** Random bytes as a blob of the given media type. */
export function randomBlob(size: number, mediaType: string = MediaType.OciLayerGzip): TestBlob {
  const data = randomBytes(size);
  return { data, desc: { mediaType, digest: sha256Digest(data), size } };
}

/** JSON bytes as a blob/manifest with its descriptor. */
export function jsonBlob(value: unknown, mediaType: string): TestBlob {
  const data = Buffer.from(JSON.stringify(value));
  return { data, desc: { mediaType, digest: sha256Digest(data), size: data.length } };
}

/** A small image: config + layers + an OCI manifest referencing them. */
export function testImage(layerSizes: number[] = [1000, 2000]): { config: TestBlob; layers: TestBlob[]; manifest: TestBlob } {
  const layers = layerSizes.map((n) => randomBlob(n));
  const config = jsonBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.desc.digest) } }, MediaType.OciConfig);
  const manifest = jsonBlob({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: config.desc, layers: layers.map((l) => l.desc) }, MediaType.OciManifest);
  return { config, layers, manifest };
}

/** Concatenate an async stream. */
export async function readStream(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of s) out.push(c);
  return Buffer.concat(out);
}

/** Chunk a buffer into an async stream of `size`-byte pieces. */
export async function* streamOf(data: Buffer, size = 64 * 1024): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}
