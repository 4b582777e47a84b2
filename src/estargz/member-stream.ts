// One gzip member decoded as its compressed bytes arrive, each of its chunks hashed and handed piece by piece
// to a sink (a chunk cache's temp file) that keeps it only once the whole chunk has matched its size and
// chunkDigest: the streamed counterpart of decodeMember (member-decoder.ts), for bytes nobody is waiting to
// read (the background fetch), so that a member costs a few pieces in memory instead of its compressed and
// its decoded bytes whole. Same policy as decodeMember: a member that does not decompress to the bytes its
// chunks need fails each chunk not yet complete with DigestMismatch; a chunk without a digest is Unsupported.
// Output past the last chunk's end (trailing tar headers, the gzip trailer) is dropped as it comes; a member
// that keeps producing it (a bomb) is stopped after TAIL_LIMIT bytes.

import { createHash, type Hash } from 'node:crypto';
import { createGunzip, type Gunzip } from 'node:zlib';
import { CtrError, digestMismatch } from '../errors.js';
import { chunkError } from './chunk-verify.js';
import { neededBytes } from './member-decoder.js';
import { TAIL_LIMIT } from './member-inflate.js';
import { chunkWhere, type Chunk, type Member } from './toc-node.js';

/** Where one chunk's bytes go while they are decoded: nothing is visible to readers before `commit`. */
export interface ChunkSink {
  /** The next bytes of the chunk, in order. */
  write(piece: Buffer): Promise<void>;
  /** All bytes were written and they match the chunk's size and digest: keep them. */
  commit(): Promise<void>;
  /** They do not (or the member failed): drop whatever was written. */
  discard(): Promise<void>;
}

/** How one chunk of a streamed member ended. */
export type StreamedChunk = { chunk: Chunk; ok: true } | { chunk: Chunk; ok: false; error: CtrError };

/** Output pieces of the inflate (zlib's default is 16 KiB: a callback each). */
const PIECE_BYTES = 64 << 10;

interface Pending {
  chunk: Chunk;
  end: number;
  hash: Hash;
  sink: ChunkSink | undefined;
  /** The sink's writes, in order; they never reject (a failure is kept in `writeError`). */
  tail: Promise<void>;
  writeError: unknown;
  done: boolean;
}

/**
 * Decodes one member pushed in pieces (`push`, then `end`). `open(chunk)` gives each chunk's sink, or
 * undefined when its bytes are not wanted (already stored): such a chunk is still verified.
 */
export class MemberStream {
  private readonly need: number;
  private readonly pending: Pending[];
  private readonly outcomes: StreamedChunk[] = [];
  private readonly z: Gunzip;
  /** Decoded bytes so far. */
  private out = 0;
  private failure: Error | undefined;
  private ended: Promise<void> | undefined;
  private readonly closed: Promise<void>;

  constructor(
    private readonly member: Member,
    open: (chunk: Chunk) => ChunkSink | undefined,
  ) {
    this.need = neededBytes(member);
    this.pending = [...member.chunks]
      .sort((a, b) => a.innerOffset - b.innerOffset)
      .map((chunk) => ({ chunk, end: chunk.innerOffset + chunk.size, hash: createHash('sha256'), sink: chunk.digest ? open(chunk) : undefined, tail: Promise.resolve(), writeError: undefined, done: false }));
    for (const p of this.pending) if (!p.chunk.digest) this.settle(p, chunkError(Buffer.alloc(0), p.chunk.size, undefined, () => chunkWhere(p.chunk)));
    for (const p of this.pending) if (p.chunk.size === 0 && !p.done) this.verify(p);
    this.z = createGunzip({ chunkSize: PIECE_BYTES });
    this.closed = new Promise<void>((resolve) => {
      this.z.on('data', (d: Buffer) => this.take(d));
      this.z.on('error', (e) => {
        this.failure ??= e;
        resolve();
      });
      this.z.on('close', resolve);
    });
  }

  /** Decoded bytes so far (trailing ones included). */
  get decodedBytes(): number {
    return this.out;
  }

  /** The member's next compressed bytes; resolves once they are decoded and their chunk bytes written. */
  async push(compressed: Buffer): Promise<void> {
    if (this.ended || this.failure || this.z.destroyed) return;
    await new Promise<void>((resolve) => {
      // the callback may never come if the stream fails meanwhile: its end settles the wait too
      void this.closed.then(resolve);
      this.z.write(compressed, () => resolve());
    });
    await Promise.all(this.pending.map((p) => p.tail));
  }

  /** The member's bytes are all pushed: each chunk's outcome, once every sink is committed or discarded. */
  async end(): Promise<StreamedChunk[]> {
    this.ended ??= (async () => {
      if (!this.z.destroyed && !this.failure) this.z.end();
      await this.closed;
      const what = `member at offset ${this.member.offset}`;
      const reason = this.failure
        ? `bad gzip data: ${this.failure.message}`
        : this.out < this.need ? `it ends after ${this.out} of ${this.need} bytes` : undefined;
      const files = () => [...new Set(this.member.chunks.map((c) => c.file.path))].join(', ');
      for (const p of this.pending) {
        if (!p.done) this.settle(p, digestMismatch(`${files()}: ${what} does not decompress: ${reason ?? 'incomplete'}`, this.failure));
      }
      await Promise.all(this.pending.map((p) => p.tail));
    })();
    await this.ended;
    return this.outcomes;
  }

  /** Stop (the fetch failed or was aborted): every chunk not yet complete fails with `error`; its sink is discarded. */
  async abort(error: CtrError): Promise<void> {
    if (this.ended) return void (await this.ended);
    this.failure ??= error;
    this.z.destroy();
    for (const p of this.pending) if (!p.done) this.settle(p, error);
    await Promise.all(this.pending.map((p) => p.tail));
  }

  /** Route one decoded piece [out, out + d.length) to the chunks it overlaps. */
  private take(d: Buffer): void {
    const from = this.out;
    const to = from + d.length;
    this.out = to;
    if (from >= this.need) {
      if (to - this.need > TAIL_LIMIT) this.z.destroy(); // every chunk is settled: nothing more is wanted
      return;
    }
    for (const p of this.pending) {
      if (p.done || p.end <= from || p.chunk.innerOffset >= to) continue;
      const a = Math.max(p.chunk.innerOffset, from);
      const b = Math.min(p.end, to);
      const piece = d.subarray(a - from, b - from);
      p.hash.update(piece);
      const sink = p.sink;
      if (sink) p.tail = p.tail.then(() => (p.writeError ? undefined : sink.write(piece))).catch((e: unknown) => void (p.writeError ??= e));
      if (b === p.end) this.verify(p);
    }
  }

  /** All of a chunk's bytes went by: check them and commit or discard. */
  private verify(p: Pending): void {
    const digest = `sha256:${p.hash.digest('hex')}`;
    this.settle(p, digest === p.chunk.digest ? undefined : digestMismatch(`${chunkWhere(p.chunk)}: content ${digest} does not match ${p.chunk.digest}`));
  }

  private settle(p: Pending, error: CtrError | undefined): void {
    p.done = true;
    const sink = p.sink;
    if (error) {
      this.outcomes.push({ chunk: p.chunk, ok: false, error });
      if (sink) p.tail = p.tail.then(() => sink.discard()).catch(() => undefined);
      return;
    }
    const i = this.outcomes.push({ chunk: p.chunk, ok: true }) - 1;
    if (!sink) return;
    p.tail = p.tail.then(async () => {
      if (p.writeError) throw p.writeError;
      await sink.commit();
    }).catch(async (e: unknown) => {
      // verified bytes the sink could not keep (a full disk): the chunk is not stored, and says why
      await sink.discard().catch(() => undefined);
      this.outcomes[i] = { chunk: p.chunk, ok: false, error: new CtrError('Unavailable', `${chunkWhere(p.chunk)}: storing it failed: ${(e as Error).message}`, { cause: e }) };
    });
  }
}
