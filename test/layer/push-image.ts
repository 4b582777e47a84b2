// Test helper: push an image made of given layer blobs to a registry with our remote client (config and
// manifest generated; OCI media types; optional layer annotations such as the eStargz toc.digest).
import { createHash } from 'node:crypto';
import { MediaType } from '../../src/oci/media-types.js';
import type { Descriptor, ImageConfig, Manifest } from '../../src/oci/types.js';
import { openRegistry } from '../../src/remote/registry-endpoint.js';

/** One layer to push. */
export interface PushLayer {
  blob: Buffer;
  /** sha256 of the uncompressed tar. */
  diffId: string;
  mediaType?: string;
  annotations?: Record<string, string>;
}

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
async function* once(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}

/** Push `layers` (base first) as image `ref` (e.g. 127.0.0.1:5000/app:1); returns the manifest digest and layer descriptors. */
export async function pushImage(ref: string, layers: PushLayer[]): Promise<{ manifestDigest: string; layers: Descriptor[] }> {
  const reg = openRegistry(ref, { plainHttp: true });
  try {
    const descs: Descriptor[] = [];
    for (const l of layers) {
      const d: Descriptor = { mediaType: l.mediaType ?? MediaType.OciLayerGzip, digest: digestOf(l.blob), size: l.blob.length, ...(l.annotations ? { annotations: l.annotations } : {}) };
      await reg.put(d, once(l.blob));
      descs.push(d);
    }
    const config: ImageConfig = {
      architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: digestOf(configBytes), size: configBytes.length };
    await reg.put(configDesc, once(configBytes));
    const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: descs };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const mdesc: Descriptor = { mediaType: MediaType.OciManifest, digest: digestOf(bytes), size: bytes.length };
    await reg.tag(mdesc, bytes);
    return { manifestDigest: mdesc.digest, layers: descs };
  } finally {
    await reg.close();
  }
}
