// The startup benchmark's images, built locally without the internet and cached as OCI layouts under the
// bench cache directory (a rebuild is skipped when the layout of the same recipe version exists):
//   busybox  busybox-static userland, `echo hello`
//   python   Debian bookworm minbase + python3 (debootstrap), `python3 -c 'print(1)'`
//   node     the python base + this machine's node binary as a second layer, `node -e 'console.log(1)'`
//   payload  busybox + N layers of random files the workload never reads, `echo hello`
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, type LayerSpec } from '../../test/fixtures/image-builder.js';
import { debootstrapRootfs } from './debootstrap-rootfs.js';

/** Names accepted by `--images`. */
export const IMAGE_NAMES = ['busybox', 'python', 'node', 'payload'] as const;
export type ImageName = (typeof IMAGE_NAMES)[number];

/** One benchmark image in a local OCI layout. */
export interface BenchImage {
  name: ImageName;
  /** OCI layout directory and tag (`oci:<layout>:<tag>`). */
  layout: string;
  tag: string;
  /** The image Cmd: the workload run by `run` and recorded by `optimize`. */
  cmd: string[];
  /** Output the workload must print for a sample to count. */
  expect: RegExp;
  /** Compressed bytes of all layers. */
  compressedBytes: number;
  layers: number;
  description: string;
}

export interface ImageOptions {
  /** Bench cache directory (debootstrap trees, layouts). */
  cacheDir: string;
  /** Payload image: number of random layers. Default 4. */
  payloadLayers?: number;
  /** Payload image: MiB of random data per layer. Default 100. */
  payloadMiB?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const RECIPE = 'v1';
const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

/** Build (or reuse from the cache) the image `name`; see the module comment for what each one holds. */
export async function prepareImage(name: ImageName, o: ImageOptions): Promise<BenchImage> {
  const recipe = await recipeOf(name, o);
  const key = name === 'payload' ? `payload-${o.payloadLayers ?? 4}x${o.payloadMiB ?? 100}` : name;
  const layout = join(o.cacheDir, 'images', `${key}-${RECIPE}`);
  const stamp = join(layout, 'bench-image.json');
  if (!existsSync(stamp)) {
    o.log?.(`building image ${name} (${recipe.description}) ...`);
    rmSync(layout, { recursive: true, force: true });
    const img = await buildImage(layout, name, { layers: await recipe.layers(), config: { Env: ENV, Cmd: recipe.cmd } });
    const compressedBytes = img.layers.reduce((a, l) => a + l.size, 0);
    writeFileSync(stamp, JSON.stringify({ compressedBytes, layers: img.layers.length }));
  }
  const info = JSON.parse(readFileSync(stamp, 'utf8')) as { compressedBytes: number; layers: number };
  return { name, layout, tag: name, cmd: recipe.cmd, expect: recipe.expect, description: recipe.description, ...info };
}

interface Recipe {
  cmd: string[];
  expect: RegExp;
  description: string;
  layers: () => Promise<LayerSpec[]>;
}

async function recipeOf(name: ImageName, o: ImageOptions): Promise<Recipe> {
  const debian = () => debootstrapRootfs(o.cacheDir, { include: ['python3'], log: o.log, signal: o.signal });
  switch (name) {
    case 'busybox':
      return { cmd: ['/bin/echo', 'hello'], expect: /^hello$/m, description: 'busybox-static, echo hello', layers: async () => [{ busybox: true }] };
    case 'python':
      return {
        cmd: ['python3', '-c', 'print(1)'], expect: /^1$/m, description: 'Debian bookworm minbase + python3',
        layers: async () => [{ hostDir: await debian() }],
      };
    case 'node':
      return {
        cmd: ['node', '-e', 'console.log(1)'], expect: /^1$/m, description: `the python base + node ${process.version} (${mib(nodeBinary())} MiB binary)`,
        layers: async () => [{ hostDir: await debian() }, { hostDir: nodeLayer(o.cacheDir) }],
      };
    case 'payload': {
      const n = o.payloadLayers ?? 4;
      const size = o.payloadMiB ?? 100;
      return {
        cmd: ['/bin/sh', '-c', 'echo hello'], expect: /^hello$/m, description: `busybox + ${n} × ${size} MiB random files never read`,
        layers: async () => [{ busybox: true }, ...Array.from({ length: n }, (_, i) => payloadLayer(i, size))],
      };
    }
  }
}

function payloadLayer(i: number, mibs: number): LayerSpec {
  return { entries: [{ path: `opt/payload/part${i}.bin`, type: 'file', content: randomBytes(mibs << 20) }] };
}

function nodeBinary(): string {
  return realpathSync(process.execPath);
}

/** A directory holding only usr/bin/node (its shared libraries, libstdc++ and libc, are in the Debian base). */
function nodeLayer(cacheDir: string): string {
  const dir = join(cacheDir, 'node-layer');
  const bin = join(dir, 'usr', 'bin', 'node');
  mkdirSync(join(dir, 'usr', 'bin'), { recursive: true });
  copyFileSync(nodeBinary(), bin);
  return dir;
}

function mib(path: string): string {
  return (statSync(path).size / (1 << 20)).toFixed(0);
}
