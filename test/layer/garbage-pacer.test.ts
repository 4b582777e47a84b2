import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GarbagePacer, MAX_COLLECT_SHARE } from '../../src/layer/garbage-pacer.js';

test('GarbagePacer: one collection per threshold of bytes let go, run off the caller\'s stack, never two pending', () => {
  const queued: (() => void)[] = [];
  let collections = 0;
  const pacer = new GarbagePacer(() => collections++, { everyBytes: 100, schedule: (run) => queued.push(run), now: () => 0 });
  pacer.letGo(60);
  assert.equal(queued.length, 0, 'below the threshold');
  pacer.letGo(60);
  assert.equal(queued.length, 1, 'at 120 bytes: one collection scheduled');
  assert.equal(collections, 0, 'not run in the caller');
  pacer.letGo(500);
  assert.equal(queued.length, 1, 'one already pending: no second one');
  queued.shift()!();
  assert.equal(collections, 1);
  assert.equal(pacer.collections, 1);
  pacer.letGo(99);
  assert.equal(queued.length, 0, 'the count starts again after a collection');
  pacer.letGo(1);
  assert.equal(queued.length, 1);
});

test('GarbagePacer: collections take at most MAX_COLLECT_SHARE of the time', () => {
  let clock = 1000;
  const collectMs = 10;
  const pacer = new GarbagePacer(() => (clock += collectMs), { everyBytes: 100, schedule: (run) => run(), now: () => clock });
  pacer.letGo(100);
  assert.equal(pacer.collections, 1, 'the first one at once');
  const wait = collectMs / MAX_COLLECT_SHARE;
  clock += wait - 1;
  pacer.letGo(1000);
  assert.equal(pacer.collections, 1, `a 10 ms collection: none for the next ${wait} ms, whatever was let go`);
  clock += 1;
  pacer.letGo(1);
  assert.equal(pacer.collections, 2, 'then the bytes counted meanwhile are due');
});

test('GarbagePacer without a collector only counts', () => {
  let scheduled = 0;
  const pacer = new GarbagePacer(undefined, { everyBytes: 10, schedule: () => scheduled++ });
  for (let i = 0; i < 10; i++) pacer.letGo(100);
  assert.equal(scheduled, 0);
  assert.equal(pacer.collections, 0);
});
