// Test helpers for optimize: layers the image builder cannot make (no parent-directory entries), an
// OCI layout image over given layer tars, and the names of a layer tar's entries.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import type { Descriptor, ImageConfig, Manifest } from '../../src/oci/types.js';
import { openLayout } from '../../src/store/oci-layout.js';
import { parseTarBuffer } from '../../src/tar/reader.js';

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar holding only the given regular files: no directory entries at all (GNU tar --no-recursion). */
export async function gzipLayer(files: { name: string; content: string }[]): Promise<{ tar: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'ctr-optimize-layer-'));
  try {
    for (const f of files) {
      await mkdir(dirname(join(dir, f.name)), { recursive: true });
      await writeFile(join(dir, f.name), f.content);
    }
    const r = await execa('tar', ['--format=pax', '--numeric-owner', '--no-recursion', '-C', dir, '-cf', '-', ...files.map((f) => f.name)], { encoding: 'buffer' });
    return { tar: Buffer.from(r.stdout) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Write a linux/amd64 OCI image of the given layer tars (gzipped here) into layout `dir` as `name`. */
export async function writeImage(dir: string, name: string, layers: { tar: Buffer }[], config: NonNullable<ImageConfig['config']>): Promise<string> {
  const layout = await openLayout(dir, { create: true });
  const descs: Descriptor[] = [];
  for (const l of layers) {
    const gz = gzipSync(l.tar);
    await layout.putBytes(gz);
    descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(gz), size: gz.length });
  }
  const cfg: ImageConfig = {
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], ...config },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l.tar)) },
  };
  const cfgBytes = Buffer.from(JSON.stringify(cfg));
  await layout.putBytes(cfgBytes);
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(cfgBytes), size: cfgBytes.length },
    layers: descs,
  };
  const mBytes = Buffer.from(JSON.stringify(manifest));
  await layout.putBytes(mBytes);
  await layout.setName(name, { mediaType: manifest.mediaType!, digest: sha256(mBytes), size: mBytes.length });
  return sha256(mBytes);
}

/** Regular files and symlinks (name → target) of a layer tar, names cleaned of "./" and trailing "/". */
export async function tarEntryNames(tar: Buffer): Promise<{ files: Set<string>; links: Map<string, string> }> {
  const files = new Set<string>();
  const links = new Map<string, string>();
  for (const { header } of parseTarBuffer(tar)) {
    const name = header.name.replace(/^\.?\//, '').replace(/\/$/, '');
    if (header.type === 'file') files.add(name);
    if (header.type === 'symlink') links.set(name, header.linkname ?? '');
  }
  return { files, links };
}
