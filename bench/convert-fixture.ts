// Bench fixture for `image convert`: a synthetic layer mix (many small files, a few large ones, part
// compressible text, part random bytes) written as a one-layer OCI image layout.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua usr lib bin share python3 import def return class self none true false'.split(' ');

/** Text-like bytes (compresses ~3-4x with gzip). */
function text(n: number): Buffer {
  const out: string[] = [];
  let len = 0;
  const rnd = randomBytes(Math.ceil(n / 4));
  for (let i = 0; len < n; i++) {
    const w = WORDS[(rnd[i % rnd.length] ?? 0) % WORDS.length] ?? 'x';
    const tok = `${w}${i % 11 === 0 ? '\n' : ' '}${i % 7 === 0 ? (rnd[(i * 3) % rnd.length] ?? 0).toString(16) : ''}`;
    out.push(tok);
    len += tok.length;
  }
  return Buffer.from(out.join('')).subarray(0, n);
}

/** Write a tree of about `totalMb` MB: ~35% in many small files, the rest in four large files. */
export function writeTree(root: string, totalMb: number): { files: number; bytes: number } {
  const total = totalMb << 20;
  let bytes = 0;
  let files = 0;
  const smallBudget = Math.floor(total * 0.35);
  for (let i = 0; bytes < smallBudget; i++) {
    const dir = join(root, 'usr', 'lib', `pkg${i % 97}`, `m${i % 13}`);
    mkdirSync(dir, { recursive: true });
    const size = 512 + ((i * 7919) % (32 << 10));
    const data = i % 3 === 0 ? randomBytes(size) : text(size);
    writeFileSync(join(dir, `f${i}.${i % 3 === 0 ? 'so' : 'py'}`), data);
    bytes += size;
    files++;
  }
  mkdirSync(join(root, 'opt', 'big'), { recursive: true });
  const large = total - bytes;
  const parts = [0.3, 0.2, 0.3, 0.2];
  parts.forEach((p, i) => {
    const size = Math.floor(large * p);
    const data = i % 2 === 0 ? randomBytes(size) : text(size);
    writeFileSync(join(root, 'opt', 'big', `blob${i}.bin`), data);
    bytes += size;
    files++;
  });
  return { files, bytes };
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Tar + gzip (level 6, like docker) `tree` into a one-layer OCI layout at `layout` named `ref`. */
export function writeLayout(tree: string, layout: string, ref: string): { layerSize: number; tarSize: number } {
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const tarPath = join(layout, 'layer.tar');
  execFileSync('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@1600000000', '-C', tree, '-cf', tarPath, '.']);
  execFileSync('gzip', ['-6', '-n', '-k', tarPath]);
  const tar = readFileSync(tarPath);
  const gz = readFileSync(`${tarPath}.gz`);
  const blob = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(join(layout, 'blobs', 'sha256', d.slice(7)), b);
    return d;
  };
  const layerDigest = blob(gz);
  execFileSync('rm', ['-f', tarPath, `${tarPath}.gz`]);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/bin/sh'] }, rootfs: { type: 'layers', diff_ids: [sha(tar)] }, history: [{ created_by: 'bench' }] }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: blob(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: gz.length }],
  }));
  const mdesc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: blob(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } };
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [mdesc] }));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return { layerSize: gz.length, tarSize: tar.length };
}
