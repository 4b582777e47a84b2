// Test helper: build eStargz blobs with the reference Go library (stargz-snapshotter 0.12 from Debian,
// through test/fixtures/go-estargz) from a directory tree packed by GNU tar, and open them with our reader.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { openEStargz, type EStargzReader } from '../../src/estargz/reader.js';

const run = promisify(execFile);
const harnessSource = new URL('../fixtures/go-estargz/main.go', import.meta.url).pathname;
let harness: Promise<string> | undefined;

/** Build the Go harness once per process (GOPATH-mode build against /usr/share/gocode). */
function buildHarness(): Promise<string> {
  harness ??= (async () => {
    const dir = join(tmpdir(), 'ctr-remote-go-estargz');
    await mkdir(dir, { recursive: true });
    const out = join(dir, 'harness');
    const env = { ...process.env, GO111MODULE: 'off', GOPATH: `${dir}/gopath:/usr/share/gocode`, GOCACHE: `${dir}/cache`, GOFLAGS: '' };
    await run('go', ['build', '-o', out, harnessSource], { env, maxBuffer: 1 << 24 });
    return out;
  })();
  return harness;
}

/** A blob built by the reference and opened by our reader. */
export interface ReferenceBlob {
  blob: Buffer;
  tocDigest: string;
  /** sha256 of the blob's uncompressed tar (as the reference computes it). */
  diffId: string;
  /** The GNU tar the blob was converted from. */
  sourceTar: Buffer;
  reader: EStargzReader;
}

/** Options of buildReferenceBlob. */
export interface BuildOptions {
  /** Chunk size in bytes (default the reference's 4 MiB). */
  chunkSize?: number;
  /** Paths to prioritize (adds `.prefetch.landmark`); default none (`.no.prefetch.landmark`). */
  prioritized?: string[];
}

/** Pack `tree` with GNU tar (sorted names, numeric owners) and convert it with the reference library. */
export async function buildReferenceBlob(tree: string, options: BuildOptions = {}): Promise<ReferenceBlob> {
  const bin = await buildHarness();
  const work = await mkdtemp(join(tmpdir(), 'ctr-remote-refblob-'));
  try {
    const tar = join(work, 'layer.tar');
    const out = join(work, 'layer.estargz');
    await run('tar', ['--sort=name', '--numeric-owner', '--xattrs', '--xattrs-include=*', '-C', tree, '-cf', tar, '.']);
    const args = ['build', tar, out, String(options.chunkSize ?? 0)];
    if (options.prioritized) args.push(options.prioritized.join(','));
    const { stdout } = await run(bin, args, { maxBuffer: 1 << 24 });
    const { tocDigest, diffId } = JSON.parse(stdout) as { tocDigest: string; diffId: string };
    const blob = await readFile(out);
    const reader = await openEStargz(new BufferRangeReader(blob), { tocDigest });
    return { blob, tocDigest, diffId, sourceTar: await readFile(tar), reader };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
