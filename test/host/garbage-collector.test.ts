import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { collectSoon, garbageCollector } from '../../src/host/garbage-collector.js';
import { builtinCache, srcUrl } from '../fixtures/code-cache.js';

test('garbageCollector: a collector in a node started without --expose-gc, which frees what nothing holds', async () => {
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'the test runs without --expose-gc (in NODE_OPTIONS either)');
  const gc = garbageCollector();
  assert.equal(typeof gc, 'function');
  assert.equal(garbageCollector(), gc, 'found once');
  let ref: WeakRef<object> | undefined;
  (() => {
    ref = new WeakRef({ big: new ArrayBuffer(1 << 20) });
  })();
  await tick(); // a WeakRef's target is kept until the end of the job that made it
  gc!('major');
  assert.equal(ref!.deref(), undefined, 'the unreachable object was collected');
});

test("garbageCollector: the flag that exposes the collector is given back (node's code cache for built-ins stays valid)", () => {
  const found = builtinCache(`
    const { garbageCollector } = await import(${srcUrl('host/garbage-collector.ts')});
    const gc = garbageCollector();
    gc('minor');
    console.log('GC ' + typeof gc);`);
  assert.match(found.out, /GC function/);
  assert.equal(found.cache, 'accepted');
});

test('collectSoon: one full collection after the current turn, not during it', async () => {
  let ref: WeakRef<object> | undefined;
  (() => {
    ref = new WeakRef({ big: new ArrayBuffer(1 << 20) });
  })();
  await tick(); // a WeakRef's target is kept until the end of the job that made it
  collectSoon();
  assert.notEqual(ref!.deref(), undefined, 'nothing collected yet: the caller\'s turn goes on');
  await tick();
  await tick();
  assert.equal(ref!.deref(), undefined, 'collected after the turn');
});
