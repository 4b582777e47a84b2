// A latency histogram as plain data (bucket bounds in seconds, a count per bucket, their sum and count), so
// the hot paths that measure (a FUSE request, an on-demand fetch) only bump numbers, a state file or a
// socket carries them as JSON, and the metrics endpoint renders them as Prometheus histograms. Pure.

/** Upper bounds of the buckets, in seconds (the last bucket, +Inf, is implicit). */
export const LATENCY_BOUNDS: readonly number[] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Observations in buckets: `counts[i]` is the number in (bounds[i-1], bounds[i]]; the last one is over every bound. */
export interface LatencyHistogram {
  counts: number[];
  /** Sum of the observed seconds. */
  sum: number;
  count: number;
}

/** An empty histogram over LATENCY_BOUNDS. */
export function emptyHistogram(): LatencyHistogram {
  return { counts: new Array<number>(LATENCY_BOUNDS.length + 1).fill(0), sum: 0, count: 0 };
}

/** Count one observation of `seconds`. */
export function observe(h: LatencyHistogram, seconds: number): void {
  let i = 0;
  while (i < LATENCY_BOUNDS.length && seconds > LATENCY_BOUNDS[i]!) i++;
  h.counts[i] = (h.counts[i] ?? 0) + 1;
  h.sum += seconds;
  h.count++;
}

/** The sum of several histograms (e.g. of every layer a process serves). */
export function mergeHistograms(list: readonly LatencyHistogram[]): LatencyHistogram {
  const out = emptyHistogram();
  for (const h of list) {
    h.counts.forEach((c, i) => (out.counts[i] = (out.counts[i] ?? 0) + c));
    out.sum += h.sum;
    out.count += h.count;
  }
  return out;
}

/** Prometheus exposition lines of `h` as histogram `name` with `labels` (cumulative buckets, _sum, _count). */
export function histogramLines(name: string, labels: Record<string, string>, h: LatencyHistogram): string[] {
  const lab = (extra: Record<string, string>) => {
    const all = { ...labels, ...extra };
    const parts = Object.entries(all).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
    return parts.length ? `{${parts.join(',')}}` : '';
  };
  const lines: string[] = [];
  let cumulative = 0;
  LATENCY_BOUNDS.forEach((b, i) => {
    cumulative += h.counts[i] ?? 0;
    lines.push(`${name}_bucket${lab({ le: String(b) })} ${cumulative}`);
  });
  lines.push(`${name}_bucket${lab({ le: '+Inf' })} ${h.count}`);
  lines.push(`${name}_sum${lab({})} ${h.sum}`);
  lines.push(`${name}_count${lab({})} ${h.count}`);
  return lines;
}
