// The streaming tar reader: walks ustar, PAX, GNU and v7 archives entry by entry from any chunked byte
// stream, reporting each entry's header and offsets and streaming payloads without buffering them.
// The same decoding serves parseTarBuffer for small archives already in memory.

import { invalidArgument } from '../errors.js';
import { BLOCK, paddingFor, type TarHeader } from './header.js';
import { isZeroBlock } from './block.js';
import { ByteQueue } from './byte-queue.js';
import { checkBlock, extensionSize, ExtensionState, type DecodeOptions } from './decode.js';
import { printable } from './numeric.js';

/** One entry of an archive being read. */
export interface TarEntry {
  header: TarHeader;
  /** Offset of the first block of this entry, including its PAX ('x', 'g') and GNU ('L', 'K') extension blocks. */
  headerOffset: number;
  /** Offset of the first payload byte (just after the entry's own ustar block). */
  dataOffset: number;
  /**
   * The payload in pieces (header.size bytes in all). Consume or abandon it before advancing to the next
   * entry; advancing skips whatever was not read. Reading it after advancing throws.
   */
  body(): AsyncIterable<Buffer>;
}

/** Options of readTar. */
export interface ReadTarOptions extends DecodeOptions {
  /** Checked between entries and payload pieces. */
  signal?: AbortSignal;
  /** Largest payload piece handed out; default 256 KiB (pieces are never bigger than an input chunk). */
  maxPiece?: number;
  /** Read (and discard) the input after the end-of-archive blocks, so wrapping hashers see it all; default true. */
  drain?: boolean;
}

/**
 * Read a tar archive from a byte stream. An archive may end with the two zero blocks or, as Go and GNU tar
 * accept, right after a complete entry. Errors: InvalidArgument (not tar, bad checksum, truncated),
 * Unsupported (sparse and other exotic entry types), LimitExceeded (huge extension headers).
 */
export async function* readTar(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: ReadTarOptions = {}): AsyncGenerator<TarEntry> {
  const q = new ByteQueue(source);
  const ext = new ExtensionState();
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const headerOffset = q.position;
      const next = await nextHeader(q, ext, opts);
      if (!next) break;
      const body = new Body(q, next.header.name, next.dataSize, opts);
      yield { header: next.header, headerOffset, dataOffset: q.position, body: () => body.pieces() };
      await body.finish();
    }
    if (opts.drain ?? true) while (await q.takeSome(1 << 20));
  } finally {
    await q.close();
  }
}

/** Walk extension blocks to the next entry header; undefined at the end of the archive. */
async function nextHeader(q: ByteQueue, ext: ExtensionState, opts: ReadTarOptions): Promise<{ header: TarHeader; dataSize: number } | undefined> {
  for (;;) {
    const offset = q.position;
    const block = await readBlock(q, ext.pending);
    if (!block) return undefined;
    if (isZeroBlock(block)) return endOfArchive(q, ext, offset);
    checkBlock(block, offset);
    const size = extensionSize(block, offset, opts);
    if (size === undefined) return ext.decode(block, offset);
    if (!(await q.fill(size + paddingFor(size)))) throw truncated(`extension header at offset ${offset} wants ${size} bytes`);
    ext.absorb(block, q.take(size), offset);
    q.take(paddingFor(size));
  }
}

/** A zero block: the end, if the next block is zero too or the input ends there. */
async function endOfArchive(q: ByteQueue, ext: ExtensionState, offset: number): Promise<undefined> {
  if (ext.pending) throw invalidArgument(`not a tar archive: extension headers are followed by a zero block at offset ${offset}`);
  const second = await readBlock(q, false);
  if (second && !isZeroBlock(second)) throw invalidArgument(`not a tar archive: lone zero block at offset ${offset} followed by data`);
  return undefined;
}

/** Next 512-byte block; undefined at a clean end of input (an error when extension headers are pending). */
async function readBlock(q: ByteQueue, pending: boolean): Promise<Buffer | undefined> {
  const offset = q.position;
  if (await q.fill(BLOCK)) return q.take(BLOCK);
  const got = q.available;
  if (got === 0 && !pending) return undefined;
  if (got === 0) throw truncated(`extension headers before offset ${offset} have no entry`);
  if (offset === 0) throw invalidArgument(`not a tar archive: input is only ${got} bytes`);
  throw truncated(`header at offset ${offset} has only ${got} of ${BLOCK} bytes`);
}

const truncated = (what: string) => invalidArgument(`truncated tar: ${what}`);

/** The payload of one entry: hands out pieces, then skips what is left and the padding. */
class Body {
  private left: number;
  private done = false;
  constructor(
    private readonly q: ByteQueue,
    private readonly name: string,
    private readonly size: number,
    private readonly opts: ReadTarOptions,
  ) {
    this.left = size;
  }

  async *pieces(): AsyncGenerator<Buffer> {
    if (this.done) throw invalidArgument(`tar entry "${printable(this.name)}": body read after moving to the next entry`);
    const max = this.opts.maxPiece ?? 256 << 10;
    while (this.left > 0) {
      this.opts.signal?.throwIfAborted();
      const piece = await this.q.takeSome(Math.min(max, this.left));
      if (!piece) throw this.short();
      this.left -= piece.length;
      yield piece;
    }
  }

  async finish(): Promise<void> {
    this.done = true;
    const pad = paddingFor(this.size);
    const skipped = await this.q.skip(this.left + pad);
    if (skipped < this.left) throw this.short(skipped);
    if (skipped < this.left + pad) throw truncated(`entry "${printable(this.name)}" ends inside its padding`);
    this.left = 0;
  }

  private short(extra = 0) {
    const got = this.size - this.left + extra;
    return truncated(`entry "${printable(this.name)}" wants ${this.size} bytes, input ended after ${got}`);
  }
}

/** Parse a small archive held in memory into headers and payloads (payloads are views into `buf`). */
export function parseTarBuffer(buf: Buffer, opts: DecodeOptions = {}): { header: TarHeader; data: Buffer }[] {
  const out: { header: TarHeader; data: Buffer }[] = [];
  const ext = new ExtensionState();
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > buf.length) throw pos === 0 ? invalidArgument(`not a tar archive: input is only ${buf.length} bytes`) : truncated(what);
  };
  while (pos < buf.length || ext.pending) {
    need(BLOCK, `header at offset ${pos} has only ${buf.length - pos} of ${BLOCK} bytes`);
    const block = buf.subarray(pos, pos + BLOCK);
    if (isZeroBlock(block)) {
      if (ext.pending) throw invalidArgument(`not a tar archive: extension headers are followed by a zero block at offset ${pos}`);
      const second = buf.subarray(pos + BLOCK, pos + 2 * BLOCK);
      if (second.length === BLOCK && !isZeroBlock(second)) throw invalidArgument(`not a tar archive: lone zero block at offset ${pos} followed by data`);
      break;
    }
    checkBlock(block, pos);
    const offset = pos;
    pos += BLOCK;
    const size = extensionSize(block, offset, opts);
    const entry = size === undefined ? ext.decode(block, offset) : undefined;
    const n = size ?? entry?.dataSize ?? 0;
    need(n + paddingFor(n), `entry at offset ${offset} wants ${n} bytes`);
    const data = buf.subarray(pos, pos + n);
    pos += n + paddingFor(n);
    if (entry) out.push({ header: entry.header, data });
    else ext.absorb(block, data, offset);
  }
  return out;
}
