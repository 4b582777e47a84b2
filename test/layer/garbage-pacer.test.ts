import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GarbagePacer, MAX_COLLECT_SHARE } from '../../src/layer/garbage-pacer.js';

test('GarbagePacer: one collection per threshold of bytes let go, run off the caller\'s stack, never two pending', () => {
  const queued: (() => void)[] = [];
  const kinds: string[] = [];
  const pacer = new GarbagePacer((k) => kinds.push(k), { everyBytes: 100, schedule: (run) => queued.push(run), now: () => 0 });
  pacer.letGo(60);
  assert.equal(queued.length, 0, 'below the threshold');
  pacer.letGo(60);
  assert.equal(queued.length, 1, 'at 120 bytes: one collection scheduled');
  assert.deepEqual(kinds, [], 'not run in the caller');
  pacer.letGo(500);
  assert.equal(queued.length, 1, 'one already pending: no second one');
  queued.shift()!();
  assert.deepEqual(kinds, ['major']);
  pacer.letGo(99);
  assert.equal(queued.length, 0, 'the count starts again after a collection');
  pacer.letGo(1);
  assert.equal(queued.length, 1);
});

test('GarbagePacer: full collections take at most MAX_COLLECT_SHARE of the time; in between, the young generation is collected', () => {
  let clock = 1000;
  const collectMs = 10;
  const kinds: string[] = [];
  const pacer = new GarbagePacer((k) => {
    kinds.push(k);
    if (k === 'major') clock += collectMs;
  }, { everyBytes: 100, schedule: (run) => run(), now: () => clock });
  pacer.letGo(100);
  assert.deepEqual(kinds, ['major'], 'the first one is full');
  const wait = collectMs / MAX_COLLECT_SHARE;
  clock += wait - 1;
  pacer.letGo(100);
  assert.deepEqual(kinds, ['major', 'minor'], `a 10 ms full collection: only young ones for the next ${wait} ms`);
  clock += 1;
  pacer.letGo(100);
  assert.deepEqual(kinds, ['major', 'minor', 'major']);
  assert.deepEqual(pacer.collections, { major: 2, minor: 1 });
});

test('GarbagePacer without a collector only counts', () => {
  let scheduled = 0;
  const pacer = new GarbagePacer(undefined, { everyBytes: 10, schedule: () => scheduled++ });
  for (let i = 0; i < 10; i++) pacer.letGo(100);
  assert.equal(scheduled, 0);
  assert.deepEqual(pacer.collections, { major: 0, minor: 0 });
});
