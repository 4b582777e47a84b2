// Shared test helpers for the eStargz tests: build layers from real trees with GNU tar, run our writer,
// and drive the reference Go library through test/fixtures/go-estargz.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { readTar } from '../../src/tar/reader.js';
import type { SourceEntry } from '../../src/estargz/entry-order.js';
import { buildEStargz, type BuildEStargzOptions, type BuildEStargzResult } from '../../src/estargz/writer.js';

/** Tar a directory's contents with GNU tar (pax format, sorted, numeric owners). */
export function gnuTar(dir: string, extra: string[] = []): Buffer {
  return execFileSync('tar', ['--format=pax', '--sort=name', '--numeric-owner', '-C', dir, '-cf', '-', ...extra, '.'], {
    maxBuffer: 1 << 30,
  });
}

/** Entries (header + data offset) of an in-memory tar. */
export async function tarEntries(tar: Buffer): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  for await (const e of readTar([tar])) out.push({ header: e.header, dataOffset: e.dataOffset });
  return out;
}

/** Build an eStargz blob in memory from an in-memory tar. */
export async function buildFromTar(tar: Buffer, opts: BuildEStargzOptions = {}): Promise<{ blob: Buffer } & BuildEStargzResult> {
  const parts: Buffer[] = [];
  const res = await buildEStargz(await tarEntries(tar), new BufferRangeReader(tar), async (b) => void parts.push(b), opts);
  return { blob: Buffer.concat(parts), ...res };
}

/** Write files (path → content) under a new temp dir; returns its path. */
export async function makeTree(root: string, files: Record<string, string | Buffer>): Promise<string> {
  for (const [p, c] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    await writeFile(join(root, p), c);
  }
  return root;
}

/** Compile the Go harness (reference estargz library) into `dir`; returns the binary path. */
export async function buildGoHarness(dir: string): Promise<string> {
  const src = join(dir, 'src', 'estargz-harness');
  await mkdir(src, { recursive: true });
  await cp(fileURLToPath(new URL('../fixtures/go-estargz/main.go', import.meta.url)), join(src, 'main.go'));
  const bin = join(dir, 'estargz-harness');
  execFileSync('go', ['build', '-o', bin, '.'], {
    cwd: src,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${dir}:/usr/share/gocode`, GOCACHE: join(dir, 'cache'), GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return bin;
}

/** One file as the Go harness reports it. */
export interface GoFile {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkName?: string;
  modtime?: string;
  sha256?: string;
  chunks?: number;
  numLink: number;
  xattrs?: Record<string, string>;
}

/** Run the harness in verify mode; throws with Go's stderr when the reference rejects the blob. */
export function goVerify(bin: string, blobPath: string, tocDigest: string, zstd = false): { tocDigest: string; tocOffset: number; order: string[]; files: GoFile[] } {
  try {
    return JSON.parse(execFileSync(bin, [zstd ? 'verify-zstd' : 'verify', blobPath, tocDigest], { maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] }).toString());
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`reference rejected ${blobPath}: ${err.stderr?.toString().trim() ?? String(e)}`);
  }
}

/** Run the reference writer (estargz.Build) on a tar file. */
export function goBuild(bin: string, tarPath: string, outPath: string, chunkSize = 0, prioritized: string[] = []): { tocDigest: string; diffId: string } {
  const args = ['build', tarPath, outPath, String(chunkSize), prioritized.join(',')];
  return JSON.parse(execFileSync(bin, args, { maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'pipe'] }).toString());
}

/** A fresh temp dir. */
export const tempDir = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), prefix));
