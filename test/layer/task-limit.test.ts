import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskLimit } from '../../src/layer/task-limit.js';

test('TaskLimit runs at most max tasks at once, in arrival order, and survives failures', async () => {
  const limit = new TaskLimit(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const task = (i: number) => limit.run(async () => {
    running++;
    peak = Math.max(peak, running);
    order.push(i);
    await sleep(5);
    running--;
    if (i === 1) throw new Error('boom');
    return i;
  });
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map(task));
  assert.equal(peak, 2);
  assert.deepEqual(order, [0, 1, 2, 3, 4]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
  assert.equal(await limit.run(async () => 'after'), 'after', 'slots are all free again');
});

test('TaskLimit bounds the total weight running; a task heavier than the bound runs alone; order is kept', async () => {
  const limit = new TaskLimit(8, 100);
  let weight = 0;
  let peak = 0;
  const order: string[] = [];
  const task = (name: string, w: number) => limit.run(async () => {
    weight += w;
    peak = Math.max(peak, weight);
    order.push(name);
    await sleep(5);
    weight -= w;
    return name;
  }, w);
  const done = await Promise.all([task('a', 60), task('b', 30), task('c', 30), task('huge', 500), task('d', 10)]);
  assert.deepEqual(done, ['a', 'b', 'c', 'huge', 'd']);
  assert.deepEqual(order, ['a', 'b', 'c', 'huge', 'd'], 'no task overtakes one waiting before it');
  assert.equal(peak, 500, 'the oversized task ran, and alone');
  assert.equal(limit.inUse, 0);
});

test('TaskLimit: a waiting task whose signal aborts leaves the queue with the reason; the next in line starts', async () => {
  const limit = new TaskLimit(Number.POSITIVE_INFINITY, 12);
  let release!: () => void;
  const first = limit.run(() => new Promise<string>((r) => (release = () => r('first'))), 10);
  const ac = new AbortController();
  let abortedRan = false;
  const aborted = limit.run(async () => { abortedRan = true; return 'aborted'; }, 8, ac.signal);
  const started: string[] = [];
  const third = limit.run(async () => { started.push('third'); return 'third'; }, 2);
  await sleep(5);
  assert.deepEqual(started, [], 'arrival order: the third waits behind the second');
  ac.abort(new Error('layer closing'));
  await assert.rejects(aborted, /layer closing/);
  assert.equal(await third, 'third', 'it fits beside the first once the aborted one has left the queue');
  assert.equal(abortedRan, false);
  release();
  assert.equal(await first, 'first');
  assert.equal(limit.inUse, 0);
  await assert.rejects(limit.run(async () => 'x', 0, AbortSignal.abort(new Error('already'))), /already/);
});
