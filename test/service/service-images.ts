// The images the snapshotter-service tests pull through containerd, pushed to a real registry:
//   gzip     busybox + a files layer (with 8 MiB of random bytes no workload reads), plain gzip layers
//   esgz     the same converted to eStargz by our convert (toc.digest annotations on its layers)
//   mixed    layer 0 the gzip busybox layer, layer 1 the eStargz files layer
//   badtoc   an eStargz variant (its own files layer) whose files layer has a wrong toc.digest annotation
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Context } from '../../src/image/context.js';
import { convertImage } from '../../src/image/convert/convert.js';
import { openLocation, parseLocation } from '../../src/image/location.js';
import type { Descriptor, ImageConfig, Index, Manifest } from '../../src/oci/types.js';
import { openRegistry } from '../../src/remote/registry-endpoint.js';
import { buildImage } from '../fixtures/image-builder.js';

/** What the workloads read. */
export const MOTD = 'hello from the service test image\n';
/** Bytes of the never-read payload. */
export const PAYLOAD_BYTES = 8 << 20;

/** References of the pushed images, and what the tests compare against. */
export interface ServiceImages {
  gzip: string;
  esgz: string;
  mixed: string;
  badtoc: string;
  /** Compressed bytes of the esgz image's layers. */
  esgzLayerBytes: number;
  /** Layer digests of the esgz image, base first. */
  esgzLayers: string[];
  /** The gzip busybox layer (the base of gzip and mixed). */
  gzipBaseLayer: string;
  /** The badtoc image's layer with the wrong toc.digest. */
  badtocLayer: string;
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Build the images under `work` and push them to `registryHost` (repository `svc/app`). */
export async function pushServiceImages(work: string, registryHost: string, creds?: { username: string; password: string }): Promise<ServiceImages> {
  const layout = join(work, 'layout');
  const name = 'svc/app:gzip';
  await buildImage(layout, name, {
    layers: [
      { busybox: true },
      {
        entries: [
          { path: 'etc/motd', type: 'file', content: MOTD },
          { path: 'srv/payload.bin', type: 'file', content: randomBytes(PAYLOAD_BYTES) },
          { path: 'srv/later.txt', type: 'file', content: 'read after a restart\n' },
        ],
      },
    ],
    config: { Env: ['PATH=/bin'], Cmd: ['cat', '/etc/motd'] },
  });
  const ctx = new Context(join(work, 'cli-root'));
  const repo = `${registryHost}/svc/app`;
  // the badtoc image's files layer differs, so that its chain of snapshots is its own
  await buildImage(layout, 'svc/app:variant', {
    layers: [{ busybox: true }, { entries: [{ path: 'etc/motd', type: 'file', content: MOTD }, { path: 'srv/variant.txt', type: 'file', content: 'variant\n' }] }],
    config: { Env: ['PATH=/bin'], Cmd: ['cat', '/etc/motd'] },
  });
  const esLayout = join(work, 'esgz-layout');
  const variantLayout = join(work, 'variant-layout');
  await convertTo(ctx, `oci:${layout}:${name}`, `oci:${esLayout}:svc/app:esgz`);
  await convertTo(ctx, `oci:${layout}:svc/app:variant`, `oci:${variantLayout}:svc/app:variant`);
  const orig = await readImage(layout);
  const es = await readImage(esLayout);
  await pushImageParts(`${repo}:gzip`, orig, orig.manifest.layers, orig.config, creds);
  await pushImageParts(`${repo}:esgz`, es, es.manifest.layers, es.config, creds);
  const [base, files] = [orig.manifest.layers[0]!, es.manifest.layers[1]!];
  const mixedConfig: ImageConfig = { ...es.config, rootfs: { type: 'layers', diff_ids: [orig.config.rootfs.diff_ids[0]!, es.config.rootfs.diff_ids[1]!] } };
  await pushImageParts(`${repo}:mixed`, { ...es, blobs: new Map([...orig.blobs, ...es.blobs]) }, [base, files], mixedConfig, creds);
  const variant = await readImage(variantLayout);
  const varFiles = variant.manifest.layers[1]!;
  const wrong = { ...varFiles, annotations: { ...varFiles.annotations, 'containerd.io/snapshot/stargz/toc.digest': sha(Buffer.from('not the TOC')) } };
  await pushImageParts(`${repo}:badtoc`, variant, [variant.manifest.layers[0]!, wrong], variant.config, creds);
  return {
    gzip: `${repo}:gzip`,
    esgz: `${repo}:esgz`,
    mixed: `${repo}:mixed`,
    badtoc: `${repo}:badtoc`,
    esgzLayerBytes: es.manifest.layers.reduce((n, l) => n + l.size, 0),
    esgzLayers: es.manifest.layers.map((l) => l.digest),
    badtocLayer: varFiles.digest,
    gzipBaseLayer: base.digest,
  };
}

async function convertTo(ctx: Context, from: string, to: string): Promise<void> {
  const src = await openLocation(parseLocation(from), 'store', { context: ctx });
  const dst = await openLocation(parseLocation(to), 'store', { context: ctx }, true);
  try {
    await convertImage(src.endpoint, dst.endpoint, { format: 'estargz', oci: true });
  } finally {
    await dst.close();
    await src.close();
  }
}

interface ImageParts {
  manifest: Manifest;
  config: ImageConfig;
  blobs: Map<string, Buffer>;
}

/** The single image of an OCI layout, with every blob it names. */
async function readImage(layout: string): Promise<ImageParts> {
  const blob = (d: string) => readFile(join(layout, 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
  const manifest = JSON.parse(String(await blob(index.manifests[0]!.digest))) as Manifest;
  const config = JSON.parse(String(await blob(manifest.config.digest))) as ImageConfig;
  const blobs = new Map<string, Buffer>();
  for (const l of manifest.layers) blobs.set(l.digest, await blob(l.digest));
  return { manifest, config, blobs };
}

async function* once(b: Buffer): AsyncIterable<Buffer> {
  yield b;
}

/** Push an image made of `layers` (blobs from `parts`) and `config` as `ref`. */
async function pushImageParts(ref: string, parts: ImageParts, layers: Descriptor[], config: ImageConfig, creds?: { username: string; password: string }): Promise<void> {
  const reg = openRegistry(ref, { plainHttp: true, ...creds });
  try {
    for (const l of layers) await reg.put(l, once(parts.blobs.get(l.digest)!));
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc: Descriptor = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(configBytes), size: configBytes.length };
    await reg.put(configDesc, once(configBytes));
    const manifest: Manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: configDesc, layers };
    const bytes = Buffer.from(JSON.stringify(manifest));
    await reg.tag({ mediaType: manifest.mediaType!, digest: sha(bytes), size: bytes.length }, bytes);
  } finally {
    await reg.close();
  }
}
