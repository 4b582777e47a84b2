import { open, type FileHandle } from 'node:fs/promises';
import type { RangeReader } from './range-reader.js';

/** A RangeReader over a local file (blobs in the store, temp files during conversion). */
export class FileRangeReader implements RangeReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  /** Open `path` for random reads. */
  static async open(path: string): Promise<FileRangeReader> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new FileRangeReader(fh, st.size);
  }

  async readAt(offset: number, length: number): Promise<Buffer> {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await this.fh.read(buf, got, n - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === n ? buf : buf.subarray(0, got);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}
