// Pure planning of Range requests for a lazily fetched blob: the compressed spans a read needs are sorted,
// merged when the gap between them is small (one slightly larger range costs less than another part of a
// multipart answer or another round trip), and capped in size so one request never grows unbounded.

/** A compressed span [offset, end) of the blob that a caller needs. */
export interface Span {
  offset: number;
  end: number;
}

/** One range to request and the spans it covers (in offset order). */
export interface PlannedRange<T extends Span> {
  offset: number;
  length: number;
  spans: T[];
}

/** Options of planRanges. */
export interface PlanOptions {
  /** Merge two spans when the bytes between them are at most this many. Default 64 KiB. */
  maxGap?: number;
  /** Do not grow a merged range beyond this many bytes (a single larger span stays whole). Default 16 MiB. */
  maxRangeBytes?: number;
}

/** Default largest gap merged into one range: 64 KiB. */
export const DEFAULT_MAX_GAP = 64 << 10;
/** Default cap of a merged range: 16 MiB. */
export const DEFAULT_MAX_RANGE_BYTES = 16 << 20;

/** Merge the needed spans into few ranges; duplicates and overlaps collapse, empty spans are dropped. */
export function planRanges<T extends Span>(spans: readonly T[], options: PlanOptions = {}): PlannedRange<T>[] {
  const maxGap = options.maxGap ?? DEFAULT_MAX_GAP;
  const maxBytes = options.maxRangeBytes ?? DEFAULT_MAX_RANGE_BYTES;
  const sorted = spans.filter((s) => s.end > s.offset).sort((a, b) => a.offset - b.offset || a.end - b.end);
  const out: PlannedRange<T>[] = [];
  let cur: PlannedRange<T> | undefined;
  for (const s of sorted) {
    const curEnd = cur ? cur.offset + cur.length : 0;
    const newEnd = Math.max(curEnd, s.end);
    if (cur && s.offset - curEnd <= maxGap && newEnd - cur.offset <= maxBytes) {
      cur.length = newEnd - cur.offset;
      cur.spans.push(s);
      continue;
    }
    cur = { offset: s.offset, length: s.end - s.offset, spans: [s] };
    out.push(cur);
  }
  return out;
}

/** Split planned ranges into batches of at most `maxRanges` ranges and `maxBytes` bytes (one request each). */
export function batchRanges<T extends Span>(ranges: readonly PlannedRange<T>[], maxRanges: number, maxBytes: number): PlannedRange<T>[][] {
  const batches: PlannedRange<T>[][] = [];
  let batch: PlannedRange<T>[] = [];
  let bytes = 0;
  for (const r of ranges) {
    if (batch.length > 0 && (batch.length >= maxRanges || bytes + r.length > maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(r);
    bytes += r.length;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}
