// V8 flags changed at run time are given back, so that node keeps compiling its built-in modules from the
// code cache in its binary (test/fixtures/code-cache.ts: node's own word on it). Each check has a control in
// which the same flag is left set and the cache is refused.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { releaseHeapSetupFlags } from '../../src/host/v8-flags.js';
import { builtinCache, srcUrl as src } from '../fixtures/code-cache.js';

describe('V8 flags given back', () => {
  test('withV8Flags: the flags hold inside, and their defaults are back after, also when the function throws', () => {
    const inside = builtinCache(`
      const { withV8Flags } = await import(${src('host/v8-flags.ts')});
      const { runInNewContext } = await import('node:vm');
      console.log('GC ' + withV8Flags('--expose-gc', '--no-expose-gc', () => typeof runInNewContext('gc')));
      try { withV8Flags('--expose-gc', '--no-expose-gc', () => { throw new Error('x'); }); } catch {}`);
    assert.match(inside.out, /GC function/, 'the flag acted while set');
    assert.equal(inside.cache, 'accepted');
    const left = builtinCache(`(await import('node:v8')).setFlagsFromString('--expose-gc');`);
    assert.equal(left.cache, 'rejected', 'control: a flag left set makes V8 refuse the cache');
  });

  test('releaseHeapSetupFlags: the semi-space cap keeps its effect and no longer costs the code cache', () => {
    const churn = `
      let keep = [];
      for (let i = 0; i < 1e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
      const ns = (await import('node:v8')).getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
      console.log('NEW ' + ns.space_size);`;
    const released = builtinCache(`
      const { releaseHeapSetupFlags } = await import(${src('host/v8-flags.ts')});
      console.log('RELEASED ' + releaseHeapSetupFlags());
      ${churn}`, ['--max-semi-space-size=1']);
    assert.match(released.out, /RELEASED true/);
    assert.equal(released.cache, 'accepted');
    const newSpace = Number(/NEW (\d+)/.exec(released.out)?.[1]);
    assert.ok(newSpace <= 2 * 2 ** 20, `the young generation stays at its cap: ${newSpace} bytes`);
    const kept = builtinCache(churn, ['--max-semi-space-size=1']);
    assert.equal(kept.cache, 'rejected', 'control: the command-line flag alone makes V8 refuse the cache');
  });

  test('releaseHeapSetupFlags: nothing to give back when node was started without the cap', () => {
    assert.equal(releaseHeapSetupFlags(['--enable-source-maps'], '--no-warnings'), false);
  });
});
