// Order statistics for benchmark samples: median and p95 (nearest rank), as the startup report uses them.

/** Median and 95th percentile (nearest rank) of `xs`; NaN for an empty list. */
export interface Summary {
  median: number;
  p95: number;
}

/** The median (mean of the middle two for an even count) and the nearest-rank p95 of `xs`. */
export function summarize(xs: readonly number[]): Summary {
  if (xs.length === 0) return { median: NaN, p95: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  const p95 = s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] as number;
  return { median, p95 };
}
