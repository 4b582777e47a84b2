// withSemiSpaceCap: the fuse manager's node gets a 1 MiB semi-space (and a node started so keeps its new
// space there under a burst of short-lived allocations, where V8 grows it to tens of MiB otherwise); a size
// the operator gave node, on its command line or in NODE_OPTIONS, is left alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { MANAGER_SEMI_SPACE_MIB, withSemiSpaceCap } from '../../src/host/young-generation.js';

test('withSemiSpaceCap adds the cap after node, unless the operator set a size', () => {
  const argv = ['/usr/bin/node', '--import', 'tsx', '/opt/ctr-remote/dist/ctr-remote.mjs'];
  assert.deepEqual(withSemiSpaceCap(argv, ''), ['/usr/bin/node', `--max-semi-space-size=${MANAGER_SEMI_SPACE_MIB}`, '--import', 'tsx', '/opt/ctr-remote/dist/ctr-remote.mjs']);
  assert.deepEqual(withSemiSpaceCap(['/usr/bin/node', '--max-semi-space-size=8', 'x.mjs'], ''), ['/usr/bin/node', '--max-semi-space-size=8', 'x.mjs']);
  assert.deepEqual(withSemiSpaceCap(['/usr/bin/node', 'x.mjs'], '--max_semi_space_size=4 --trace-warnings'), ['/usr/bin/node', 'x.mjs']);
  assert.deepEqual(withSemiSpaceCap([], ''), []);
});

test('a node started with the cap keeps its new space at it under a burst of allocations', async () => {
  const burst = `
    const v8 = require('node:v8');
    let keep = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 50000) keep = []; }
    console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576);`;
  const run = async (argv: string[]) => Number((await execa(argv[0]!, [...argv.slice(1), '-e', burst], { env: { NODE_OPTIONS: '' } })).stdout);
  const free = await run([process.execPath]);
  assert.ok(free >= 8, `without the cap V8 grows new space (to ${free} MiB here), or this test shows nothing`);
  const capped = await run(withSemiSpaceCap([process.execPath], ''));
  assert.ok(capped <= 2 * MANAGER_SEMI_SPACE_MIB, `new space is ${capped} MiB with the cap`);
});
