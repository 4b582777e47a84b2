// One OCI image layout directory (`oci-layout`, `index.json`, `blobs/sha256/<hex>`): the local image
// store under `<root>/store` and every `oci:DIR[:TAG]` location are this same class.
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md
// Blobs are written through verified ingest files (blob-writer.ts); index.json is replaced atomically
// while holding `index.json.lock` (file-lock.ts), so concurrent commands never lose each other's names.
import { mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { digestMismatch, invalidArgument, limitExceeded, notFound } from '../errors.js';
import { fileChunks } from '../content/file-chunks.js';
import { FileRangeReader } from '../content/file-range-reader.js';
import type { RangeReader } from '../content/range-reader.js';
import { digestHex, isDigest } from '../oci/digest.js';
import { Annotation, MediaType } from '../oci/media-types.js';
import type { Descriptor, Index } from '../oci/types.js';
import { writeFileAtomic } from '../host/atomic-file.js';
import { openBlobWriter, type BlobInfo, type BlobWriter, type WriterOptions } from './blob-writer.js';
import { withLock } from './file-lock.js';
import { takeLease } from './leases.js';

export type { BlobInfo, BlobWriter, WriterOptions } from './blob-writer.js';

export interface OpenLayoutOptions {
  /** Create the directory, `oci-layout` and an empty `index.json` when missing (default false: NotFound). */
  create?: boolean;
  /**
   * Where in-flight blobs are written (default: the layout directory itself, as hidden `.ingest-*`
   * files). Must be on the same filesystem as the layout. The store uses `<store>/ingest`.
   */
  ingestDir?: string;
}

/** An image name in a layout and the descriptor it points at (without the ref.name annotation). */
export interface NamedDescriptor {
  name: string;
  descriptor: Descriptor;
}

const LAYOUT_FILE = 'oci-layout';
const LAYOUT_VERSION = '1.0.0';

/** Open (or with `create`, initialise) the OCI image layout at `dir`. */
export async function openLayout(dir: string, options: OpenLayoutOptions = {}): Promise<OciLayout> {
  const layoutFile = join(dir, LAYOUT_FILE);
  const text = await readFile(layoutFile, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw e;
  });
  if (text === undefined && !options.create) throw notFound(`${dir} is not an OCI image layout (no ${LAYOUT_FILE} file)`);
  if (text !== undefined) checkLayoutFile(text, layoutFile);
  const layout = new OciLayout(dir, options.ingestDir ?? dir);
  if (text === undefined || options.create) await layout.initialise();
  return layout;
}

function checkLayoutFile(text: string, path: string): void {
  let version: unknown;
  try {
    version = (JSON.parse(text) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    throw invalidArgument(`${path} is not valid JSON`);
  }
  if (version !== LAYOUT_VERSION) throw invalidArgument(`${path}: unsupported imageLayoutVersion ${JSON.stringify(version)}`);
}

/** Content (blobs by digest) and names (index.json entries) of one OCI image layout. */
export class OciLayout {
  readonly blobsDir: string;

  constructor(
    readonly dir: string,
    readonly ingestDir: string,
  ) {
    this.blobsDir = join(dir, 'blobs', 'sha256');
  }

  /** Create the directories and files a layout needs; existing content is kept. */
  async initialise(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await mkdir(this.ingestDir, { recursive: true });
    const layoutFile = join(this.dir, LAYOUT_FILE);
    // Atomic, so a concurrent first open never reads a half-written file.
    const hasLayout = await stat(layoutFile).then(() => true, () => false);
    if (!hasLayout) await writeFileAtomic(layoutFile, JSON.stringify({ imageLayoutVersion: LAYOUT_VERSION }));
    const hasIndex = await stat(join(this.dir, 'index.json')).then(() => true, () => false);
    if (!hasIndex) await this.updateIndex((index) => index);
  }

  // ---- content ----

  /** Path of a blob's file (whether or not it exists). */
  blobPath(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }

  /** Size of a stored blob; throws NotFound. */
  async info(digest: string): Promise<BlobInfo> {
    const st = await stat(this.blobPath(digest)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw notFound(`blob ${digest} not found in ${this.dir}`);
      throw e;
    });
    return { digest, size: st.size };
  }

  /** True when the blob is stored (and, when `size` is given, has that size). */
  async has(digest: string, size?: number): Promise<boolean> {
    const st = await stat(this.blobPath(digest)).catch(() => undefined);
    return st !== undefined && (size === undefined || st.size === size);
  }

  /**
   * Read a stored blob whole and compare it with `digest` (and `size` when given): undefined when it
   * matches, else why not ('missing', a wrong size, or the sha256 it really has).
   */
  async verify(digest: string, options: { size?: number; signal?: AbortSignal } = {}): Promise<string | undefined> {
    return (await this.inspect(digest, options)).problem;
  }

  /**
   * Verify a stored blob (see verify) and delete it when it is corrupt, unless another writer replaced the
   * file meanwhile. Returns undefined when the blob is intact, 'missing', or why the corrupt copy was deleted.
   */
  async removeIfCorrupt(digest: string, options: { size?: number; signal?: AbortSignal } = {}): Promise<string | undefined> {
    const { problem, ino } = await this.inspect(digest, options);
    if (problem === undefined || problem === 'missing') return problem;
    const now = await stat(this.blobPath(digest)).catch(() => undefined);
    if (now?.ino === ino) await this.delete(digest);
    return problem;
  }

  private async inspect(digest: string, options: { size?: number; signal?: AbortSignal }): Promise<{ problem?: string; ino?: number }> {
    const fh = await open(this.blobPath(digest), 'r').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (!fh) return { problem: 'missing' };
    try {
      const st = await fh.stat();
      if (options.size !== undefined && st.size !== options.size) return { problem: `it has ${st.size} bytes, not ${options.size}`, ino: st.ino };
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        options.signal?.throwIfAborted();
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
      }
      const actual = `sha256:${hash.digest('hex')}`;
      return actual === digest ? { ino: st.ino } : { problem: `its sha256 is ${actual}`, ino: st.ino };
    } finally {
      await fh.close();
    }
  }

  /** Random-access reader over a stored blob (the caller closes it). Throws NotFound. */
  async readerAt(digest: string): Promise<RangeReader> {
    await this.info(digest);
    return FileRangeReader.open(this.blobPath(digest));
  }

  /** The whole blob, verified against its digest; throws LimitExceeded when larger than `maxSize`. */
  async readBytes(digest: string, maxSize: number): Promise<Buffer> {
    const { size } = await this.info(digest);
    if (size > maxSize) throw limitExceeded(`blob ${digest} is ${size} bytes, over the ${maxSize}-byte limit`);
    const bytes = await readFile(this.blobPath(digest));
    const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (actual !== digest) throw digestMismatch(`blob ${digest} in ${this.dir} is corrupt: its sha256 is ${actual}`);
    return bytes;
  }

  /** The blob's bytes as a stream (not verified: the consumer hashes what it reads). Throws NotFound. */
  async stream(digest: string, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<Buffer>> {
    await this.info(digest);
    return fileChunks(this.blobPath(digest), options.signal);
  }

  /** Start writing a blob; see BlobWriter. */
  async writer(options: WriterOptions = {}): Promise<BlobWriter> {
    await mkdir(this.ingestDir, { recursive: true });
    return openBlobWriter(this.ingestDir, this.blobsDir, options);
  }

  /** Store bytes (verified against `digest` when given) and return their digest and size. */
  async putBytes(bytes: Uint8Array, digest?: string): Promise<BlobInfo> {
    const w = await this.writer({ size: bytes.length, ...(digest !== undefined ? { digest } : {}) });
    try {
      await w.write(bytes);
    } catch (e) {
      await w.abort();
      throw e;
    }
    return w.commit();
  }

  /** Remove a blob (no error when it is already gone). */
  async delete(digest: string): Promise<void> {
    await unlink(this.blobPath(digest)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** Protect blobs written from now on from gc until the returned release function is called (see leases.ts). */
  async lease(): Promise<() => Promise<void>> {
    return takeLease(this.ingestDir);
  }

  /** Every stored blob. */
  async *walk(): AsyncIterable<BlobInfo> {
    const names = await readdir(this.blobsDir).catch(() => [] as string[]);
    for (const hex of names) {
      const digest = `sha256:${hex}`;
      if (!isDigest(digest)) continue;
      const st = await stat(join(this.blobsDir, hex)).catch(() => undefined);
      if (st?.isFile()) yield { digest, size: st.size };
    }
  }

  // ---- names ----

  /** The current index.json (an empty index when the file is missing). */
  async readIndex(): Promise<Index> {
    const path = join(this.dir, 'index.json');
    const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
    if (text === undefined) return emptyIndex();
    let index: Index;
    try {
      index = JSON.parse(text) as Index;
    } catch (e) {
      throw invalidArgument(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (!Array.isArray(index.manifests)) throw invalidArgument(`${path} has no manifests array`);
    return index;
  }

  /** Read-modify-write index.json under the layout's inter-process lock; the new file replaces the old atomically. */
  async updateIndex(change: (index: Index) => Index | Promise<Index>, options: { signal?: AbortSignal } = {}): Promise<Index> {
    return this.withIndexLock(async () => {
      const next = await change(await this.readIndex());
      await writeFileAtomic(join(this.dir, 'index.json'), `${JSON.stringify(next)}\n`);
      return next;
    }, options);
  }

  /** Run `fn` while holding the lock that serialises index.json updates and gc. */
  async withIndexLock<T>(fn: () => Promise<T>, options: { signal?: AbortSignal } = {}): Promise<T> {
    return withLock(join(this.dir, 'index.json.lock'), fn, options);
  }

  /** All named images, in index.json order. */
  async list(): Promise<NamedDescriptor[]> {
    const index = await this.readIndex();
    const out: NamedDescriptor[] = [];
    for (const d of index.manifests) {
      const name = d.annotations?.[Annotation.RefName];
      if (name !== undefined) out.push({ name, descriptor: stripName(d) });
    }
    return out;
  }

  /** The descriptor named `name`; throws NotFound. */
  async get(name: string): Promise<Descriptor> {
    const found = await this.find(name);
    if (!found) throw notFound(`image ${name} not found in ${this.dir}`);
    return found;
  }

  /** The descriptor named `name`, or undefined. */
  async find(name: string): Promise<Descriptor | undefined> {
    return (await this.list()).find((n) => n.name === name)?.descriptor;
  }

  /** Point `name` at `desc` (replacing any previous entry of that name). */
  async setName(name: string, desc: Descriptor, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.updateIndex((index) => {
      const manifests = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] !== name);
      const entry: Descriptor = { ...stripName(desc), annotations: { ...desc.annotations, [Annotation.RefName]: name } };
      return { ...index, manifests: [...manifests, entry] };
    }, options);
  }

  /** Remove `name`; returns false when there was no such name. Blobs stay until gc. */
  async removeName(name: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    let removed = false;
    await this.updateIndex((index) => {
      const manifests = index.manifests.filter((d) => d.annotations?.[Annotation.RefName] !== name);
      removed = manifests.length !== index.manifests.length;
      return { ...index, manifests };
    }, options);
    return removed;
  }
}

function emptyIndex(): Index {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

/** A copy of `d` without the ref.name annotation (and without an annotations object left empty). */
export function stripName(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  if (!annotations) return rest;
  const { [Annotation.RefName]: _name, ...others } = annotations;
  return Object.keys(others).length ? { ...rest, annotations: others } : rest;
}
