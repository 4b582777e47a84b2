// Writing one blob into a layout: bytes go to an ingest file, are hashed as they arrive, and only a
// commit whose size and sha256 match what was promised renames the file into blobs/sha256/. A writer
// killed at any point leaves at most an ingest file (named after its owner, removed by gc), never a blob.
import { createHash, type Hash } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { digestMismatch } from '../errors.js';
import { digestHex } from '../oci/digest.js';
import { ownedName } from '../host/owned-names.js';

/** Digest and size of a stored blob. */
export interface BlobInfo {
  digest: string;
  size: number;
}

/** What the writer must verify at commit (both optional: unknown content is hashed and named on commit). */
export interface WriterOptions {
  /** Expected digest; a mismatch at commit throws DigestMismatch and stores nothing. */
  digest?: string;
  /** Expected size; writing more, or committing fewer bytes, throws DigestMismatch. */
  size?: number;
  signal?: AbortSignal;
}

/** An in-flight blob: write chunks, then commit (verify + make visible) or abort (discard). */
export interface BlobWriter {
  /** Bytes written so far. */
  readonly written: number;
  write(chunk: Uint8Array): Promise<void>;
  /** Verify size and digest, fsync, and move the blob into place. Returns what was stored. */
  commit(): Promise<BlobInfo>;
  /** Discard the ingest file (idempotent; also safe after a failed commit). */
  abort(): Promise<void>;
}

/** Prefix of ingest file names; the owner part lets gc remove files of dead writers. */
export const INGEST_PREFIX = '.ingest-';

/** Open a writer whose ingest file lives in `ingestDir` and whose blobs land in `blobsDir` (same filesystem). */
export async function openBlobWriter(ingestDir: string, blobsDir: string, options: WriterOptions = {}): Promise<BlobWriter> {
  if (options.digest !== undefined) digestHex(options.digest);
  const path = join(ingestDir, ownedName(INGEST_PREFIX));
  const fh = await open(path, 'wx', 0o644);
  return new IngestWriter(fh, path, blobsDir, options);
}

class IngestWriter implements BlobWriter {
  written = 0;
  private readonly hash: Hash = createHash('sha256');
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly blobsDir: string,
    private readonly options: WriterOptions,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    this.options.signal?.throwIfAborted();
    const want = this.options.size;
    if (want !== undefined && this.written + chunk.length > want) {
      throw digestMismatch(`blob ${this.options.digest ?? '(unnamed)'} is larger than its declared ${want} bytes`);
    }
    this.hash.update(chunk);
    let off = 0;
    while (off < chunk.length) off += (await this.fh.write(chunk, off, chunk.length - off)).bytesWritten;
    this.written += chunk.length;
  }

  async commit(): Promise<BlobInfo> {
    try {
      const info = this.verify();
      await this.fh.sync();
      await this.close();
      // Renamed over an existing file too: the new bytes are verified, the old file may be a corrupt copy.
      await rename(this.path, join(this.blobsDir, digestHex(info.digest)));
      return info;
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  async abort(): Promise<void> {
    await this.close();
    await unlink(this.path).catch(() => {});
  }

  private verify(): BlobInfo {
    const digest = `sha256:${this.hash.digest('hex')}`;
    const { digest: wantDigest, size: wantSize } = this.options;
    if (wantSize !== undefined && this.written !== wantSize) {
      throw digestMismatch(`blob ${wantDigest ?? digest} is truncated: got ${this.written} of ${wantSize} bytes`);
    }
    if (wantDigest !== undefined && digest !== wantDigest) {
      throw digestMismatch(`blob ${wantDigest} has wrong content: its sha256 is ${digest}`);
    }
    return { digest, size: this.written };
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
