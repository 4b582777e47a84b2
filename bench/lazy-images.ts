// Images of the lazy-mount benchmark (bench/lazy.ts), built once into OCI layouts under bench/.cache/lazy and
// copied into the benchmark's registry on every run:
//   big   ~400 MB: one small file next to a random payload (cold lazy read vs full pull), gzip + eStargz
//   tree  ~200 MB: ~6k small files and a few large ones (cached sequential read and stat walk), eStargz
//   giant ~1 GB layer of random files (peak RSS of the serving process), eStargz
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertImage } from '../src/image/convert/convert.js';
import { copyImage } from '../src/image/copy/copy-image.js';
import { openLocation, parseLocation } from '../src/image/location.js';
import { buildImage } from '../test/fixtures/image-builder.js';
import { Context } from '../src/image/context.js';

/** Sizes of the benchmark images (MiB); defaults match issue 4. */
export interface LazyImageSizes {
  /** Payload of the `big` image. Default 400. */
  bigMiB: number;
  /** Small files of the `tree` image. Default 6000. */
  treeSmallFiles: number;
  /** Large-file bytes of the `tree` image. Default 150 MiB in 6 files. */
  treeLargeMiB: number;
  /** The `giant` layer. Default 1024. */
  giantMiB: number;
}

/** Where the prepared layouts and the local copy of the tree image live. */
export interface LazyImages {
  /** oci:DIR:NAME locations. */
  bigGzip: string;
  bigEstargz: string;
  treeEstargz: string;
  giantEstargz: string;
  /** The `tree` image's files on local disk (the comparison side of the sequential-read benchmark). */
  treeDir: string;
  /** Path (inside the images) of the one small file read cold. */
  smallFile: string;
}

/** Deterministic pseudo-random bytes (hex text: compresses to about half, like real files). */
function textBytes(seed: string, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let block = createHash('sha256').update(seed).digest();
  for (let off = 0; off < n; off += 64) {
    block = createHash('sha256').update(block).digest();
    out.write(block.toString('hex'), off, Math.min(64, n - off), 'latin1');
  }
  return out;
}

function writeTree(dir: string, sizes: LazyImageSizes): void {
  rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < sizes.treeSmallFiles; i++) {
    const sub = join(dir, 'usr', 'share', `pkg${Math.floor(i / 60)}`, `d${i % 3}`);
    mkdirSync(sub, { recursive: true });
    const size = 256 + ((i * 7919) % 16_000); // 256 B .. 16 KiB, ~8 KiB mean
    writeFileSync(join(sub, `f${i}.txt`), textBytes(`small${i}`, size));
  }
  mkdirSync(join(dir, 'opt', 'big'), { recursive: true });
  const large = 6;
  for (let i = 0; i < large; i++) {
    writeFileSync(join(dir, 'opt', 'big', `blob${i}.bin`), textBytes(`large${i}`, Math.floor((sizes.treeLargeMiB << 20) / large)));
  }
}

function writeRandomFiles(dir: string, totalMiB: number, fileMiB: number): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i * fileMiB < totalMiB; i++) writeFileSync(join(dir, `part${i}.bin`), randomBytes(Math.min(fileMiB, totalMiB - i * fileMiB) << 20));
}

async function convert(src: string, dst: string, work: string): Promise<void> {
  const ctx = { context: new Context(join(work, 'prep-root')) };
  const s = await openLocation(parseLocation(src), 'store', ctx);
  const d = await openLocation(parseLocation(dst), 'store', ctx, true);
  try {
    await convertImage(s.endpoint, d.endpoint, { format: 'estargz', oci: true, level: 6 });
  } finally {
    await s.close();
    await d.close();
  }
}

/** Build (or reuse from `cacheDir`) the three images. */
export async function prepareLazyImages(cacheDir: string, sizes: LazyImageSizes, log: (m: string) => void): Promise<LazyImages> {
  const key = `b${sizes.bigMiB}-t${sizes.treeSmallFiles}-${sizes.treeLargeMiB}-g${sizes.giantMiB}`;
  const dir = join(cacheDir, key);
  const layout = (n: string) => `oci:${join(dir, n)}:${n}`;
  const images: LazyImages = {
    bigGzip: layout('big-gzip'), bigEstargz: layout('big-esgz'), treeEstargz: layout('tree-esgz'), giantEstargz: layout('giant-esgz'),
    treeDir: join(dir, 'tree-files'), smallFile: 'etc/hello.txt',
  };
  if (existsSync(join(dir, 'done'))) return images;
  mkdirSync(dir, { recursive: true });
  const smallLayer = { entries: [{ path: 'etc/hello.txt', type: 'file' as const, content: 'hello from a lazy layer\n' }] };

  log(`building the ${sizes.bigMiB} MiB image`);
  const payload = join(dir, 'payload-files');
  writeRandomFiles(payload, sizes.bigMiB, 50);
  await buildImage(join(dir, 'big-gzip'), 'big-gzip', { layers: [smallLayer, { hostDir: payload }] });
  rmSync(payload, { recursive: true, force: true });
  await convert(images.bigGzip, images.bigEstargz, dir);

  log('building the tree image');
  writeTree(images.treeDir, sizes);
  await buildImage(join(dir, 'tree-src'), 'tree-src', { layers: [{ hostDir: images.treeDir }], compression: 'none' });
  await convert(layout('tree-src'), images.treeEstargz, dir);
  rmSync(join(dir, 'tree-src'), { recursive: true, force: true });

  log(`building the ${sizes.giantMiB} MiB layer`);
  const giant = join(dir, 'giant-files');
  writeRandomFiles(giant, sizes.giantMiB, 64);
  await buildImage(join(dir, 'giant-src'), 'giant-src', { layers: [{ hostDir: giant }], compression: 'none' });
  rmSync(giant, { recursive: true, force: true });
  await convert(layout('giant-src'), images.giantEstargz, dir);
  rmSync(join(dir, 'giant-src'), { recursive: true, force: true });
  rmSync(join(dir, 'prep-root'), { recursive: true, force: true });
  writeFileSync(join(dir, 'done'), '');
  return images;
}

/** Copy a prepared layout image to `ref` in a registry. */
export async function pushLayout(src: string, ref: string, work: string): Promise<void> {
  const ctx = { context: new Context(join(work, 'push-root')) };
  const s = await openLocation(parseLocation(src), 'store', ctx);
  const d = await openLocation(parseLocation(ref), 'registry', ctx);
  try {
    await copyImage(s.endpoint, d.endpoint);
  } finally {
    await s.close();
    await d.close();
  }
}
