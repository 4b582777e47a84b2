import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { batchRanges, planRanges } from '../../src/layer/fetch-planner.js';
import { SharedFlights, raceSignal } from '../../src/layer/shared-flights.js';

const span = (offset: number, end: number) => ({ offset, end });

describe('planRanges', () => {
  test('merges spans whose gap is at most maxGap, in offset order, keeping every span', () => {
    const spans = [span(300, 400), span(0, 100), span(110, 200), span(1000, 1100)];
    const plan = planRanges(spans, { maxGap: 100 });
    assert.deepEqual(plan.map((r) => [r.offset, r.length]), [[0, 400], [1000, 100]]);
    assert.deepEqual(plan[0]!.spans, [span(0, 100), span(110, 200), span(300, 400)]);
  });

  test('duplicates and overlaps collapse; empty spans are dropped', () => {
    const plan = planRanges([span(0, 50), span(0, 50), span(20, 80), span(90, 90)], { maxGap: 0 });
    assert.deepEqual(plan.map((r) => [r.offset, r.length]), [[0, 80]]);
    assert.equal(plan[0]!.spans.length, 3);
  });

  test('a merged range never grows beyond maxRangeBytes, but a single large span stays whole', () => {
    const plan = planRanges([span(0, 60), span(60, 120), span(120, 500)], { maxGap: 10, maxRangeBytes: 100 });
    assert.deepEqual(plan.map((r) => [r.offset, r.length]), [[0, 60], [60, 60], [120, 380]]);
  });

  test('batchRanges caps ranges and bytes per request', () => {
    const plan = planRanges([span(0, 10), span(100, 110), span(200, 210), span(300, 400)], { maxGap: 0 });
    assert.deepEqual(batchRanges(plan, 2, 1000).map((b) => b.length), [2, 2]);
    assert.deepEqual(batchRanges(plan, 10, 25).map((b) => b.length), [2, 1, 1]);
  });
});

describe('SharedFlights', () => {
  test('identical concurrent work runs once; a failure is forgotten so the next caller retries', async () => {
    const flights = new SharedFlights<string, number>();
    let starts = 0;
    const work = () => {
      starts++;
      return new Promise<number>((resolve) => setTimeout(() => resolve(starts), 5));
    };
    const [a, b] = await Promise.all([flights.run('k', work), flights.run('k', work)]);
    assert.deepEqual([a, b, starts], [1, 1, 1]);
    assert.equal(flights.size, 0);
    await assert.rejects(flights.run('e', () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(flights.has('e'), false);
    assert.equal(await flights.run('e', async () => 7), 7);
  });

  test('raceSignal rejects the waiter on abort while the work continues', async () => {
    const ac = new AbortController();
    let finished = false;
    const work = new Promise<void>((r) => setTimeout(() => { finished = true; r(); }, 20));
    const waiting = raceSignal(work, ac.signal);
    ac.abort(new Error('interrupted'));
    await assert.rejects(waiting, /interrupted/);
    await work;
    assert.equal(finished, true);
  });
});
