// The benchmarks' chart: bars stack their phases to the value axis, and a mark (a target line) is drawn at
// its value, or not at all when it is above the axis.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stackedBarSvg } from '../../bench/lib/stacked-bar-svg.js';

const phases = [{ name: 'rpull', color: '#111' }, { name: 'run', color: '#222' }];

/** The y coordinates of the chart's rects of one colour, and of its dashed lines. */
function ys(svg: string, color: string): number[] {
  return [...svg.matchAll(new RegExp(`<rect x="[^"]+" y="([^"]+)" width="34" height="[^"]+" fill="${color}"`, 'g'))].map((m) => Number(m[1]));
}
const dashed = (svg: string) => [...svg.matchAll(/<line [^>]*y1="([^"]+)"[^>]*stroke-dasharray/g)].map((m) => Number(m[1]));

describe('stacked bar chart', () => {
  test('a mark is a dashed line at its value; one above the axis is left out', () => {
    const svg = stackedBarSvg({
      title: 't', unit: 'x', phases,
      bars: [{ group: 'g', label: 'a', values: [0.5, 0.5] }, { group: 'g', label: 'b', values: [0.2, 0.2] }],
      marks: [{ value: 0.8, label: 'target' }, { value: 3, label: 'off the chart' }],
    });
    const [line] = dashed(svg);
    assert.equal(dashed(svg).length, 1, 'the mark above the axis (max 1) is not drawn');
    // the plot spans 320 px from y=70 (the axis maximum, 1) to y=390 (0)
    assert.equal(line, 70 + 320 * (1 - 0.8));
    assert.match(svg, />target</);
    assert.doesNotMatch(svg, /off the chart/);
    assert.deepEqual(ys(svg, '#222'), [70, 70 + 320 * 0.6], 'the top phase of each bar ends at its total');
  });

  test('without marks, no dashed line', () => {
    const svg = stackedBarSvg({ title: 't', unit: 'x', phases, bars: [{ group: 'g', label: 'a', values: [1, 2] }] });
    assert.equal(dashed(svg).length, 0);
  });
});
