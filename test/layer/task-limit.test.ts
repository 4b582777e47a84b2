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
