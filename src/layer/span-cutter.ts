// The bytes of one streamed range, cut into the spans (members) it was planned for as they arrive: pure
// bookkeeping of where each arriving byte belongs, the bytes between spans (gaps the planner merged over)
// and after the last one dropped. Both streamed fetches of a lazy layer use it: the one that decodes members
// into memory and the one that decodes them into the chunk cache.
import { CtrError } from '../errors.js';
import type { Span } from './fetch-planner.js';

/** A piece of one span's bytes; `first` and `last` mark the pieces that start and complete it. */
export interface SpanPiece<T extends Span> {
  span: T;
  /** A view of the bytes handed to `cut` (no copy). */
  piece: Buffer;
  first: boolean;
  last: boolean;
}

/** Cuts the bytes of the range [offset, end) into pieces of `spans` (distinct, in blob order). */
export class SpanCutter<T extends Span> {
  private pos: number;
  private next = 0;
  /** Whether the span being filled has had bytes already. */
  private started = false;

  constructor(
    private readonly spans: readonly T[],
    offset: number,
    private readonly end: number,
  ) {
    this.pos = offset;
  }

  /** Blob offset of the next byte to come. */
  get position(): number {
    return this.pos;
  }

  /** Spans complete so far (the index of the one being filled). */
  get completed(): number {
    return this.next;
  }

  /** The pieces of the next `bytes` of the range, in order. */
  cut(bytes: Buffer): SpanPiece<T>[] {
    const out: SpanPiece<T>[] = [];
    const n = Math.min(bytes.length, this.end - this.pos);
    let i = 0;
    while (i < n && this.next < this.spans.length) {
      const s = this.spans[this.next]!;
      if (this.pos < s.offset) { // a gap the planner merged over
        const skip = Math.min(s.offset - this.pos, n - i);
        i += skip;
        this.pos += skip;
        continue;
      }
      const first = !this.started;
      // spans never overlap (distinct members in blob order); one starting before the bytes already taken
      // would get a first piece that is not its first bytes
      if (first && this.pos !== s.offset) throw new CtrError('Internal', `span at ${s.offset} overlaps the one before it in a streamed range`);
      const k = Math.min(s.end - this.pos, n - i);
      const last = this.pos + k === s.end;
      out.push({ span: s, piece: bytes.subarray(i, i + k), first, last });
      i += k;
      this.pos += k;
      this.started = !last;
      if (last) this.next++;
    }
    this.pos += n - i; // after the last span
    return out;
  }
}
