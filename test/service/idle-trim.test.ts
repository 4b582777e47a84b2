// When the fuse manager gives back the memory of its last burst: once per quiet spell of IDLE_TRIM_MS, never
// while anything changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleTrim } from '../../src/service/idle-trim.js';

test('a trim comes once the signature has stayed the same for the idle time, once per quiet spell', () => {
  const idle = new IdleTrim(10_000);
  assert.equal(idle.observe('a', 0), false, 'the first look starts the clock');
  assert.equal(idle.observe('a', 9_999), false, 'not yet quiet long enough');
  assert.equal(idle.observe('a', 10_000), true, 'quiet for the idle time: trim');
  assert.equal(idle.observe('a', 30_000), false, 'once per quiet spell');
  assert.equal(idle.observe('b', 31_000), false, 'activity starts a new spell');
  assert.equal(idle.observe('b', 40_000), false);
  assert.equal(idle.observe('c', 40_500), false, 'more activity moves the clock');
  assert.equal(idle.observe('c', 50_499), false);
  assert.equal(idle.observe('c', 50_500), true);
});
