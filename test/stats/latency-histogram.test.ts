// Latency histograms as data: an observation lands in the first bucket whose bound it does not exceed (or
// +Inf), merging adds bucket by bucket, and the exposition lines are cumulative with _sum and _count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyHistogram, histogramLines, LATENCY_BOUNDS, mergeHistograms, observe } from '../../src/stats/latency-histogram.js';

test('buckets, merge and exposition', () => {
  const a = emptyHistogram();
  observe(a, 0.0001); // on the first bound: first bucket
  observe(a, 0.003);
  observe(a, 99); // over every bound
  const b = emptyHistogram();
  observe(b, 0.003);
  const m = mergeHistograms([a, b]);
  assert.equal(m.count, 4);
  assert.equal(m.counts[0], 1);
  assert.equal(m.counts[LATENCY_BOUNDS.indexOf(0.005)], 2);
  assert.equal(m.counts[LATENCY_BOUNDS.length], 1);
  const lines = histogramLines('x_seconds', { op: 'READ' }, m);
  assert.ok(lines.includes('x_seconds_bucket{op="READ",le="0.0001"} 1'));
  assert.ok(lines.includes('x_seconds_bucket{op="READ",le="0.005"} 3'));
  assert.ok(lines.includes('x_seconds_bucket{op="READ",le="10"} 3'));
  assert.ok(lines.includes('x_seconds_bucket{op="READ",le="+Inf"} 4'));
  assert.ok(lines.includes('x_seconds_count{op="READ"} 4'));
  assert.equal(lines.find((l) => l.startsWith('x_seconds_sum')), `x_seconds_sum{op="READ"} ${0.0001 + 0.003 + 99 + 0.003}`);
});
