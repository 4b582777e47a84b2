// runcList and runcDelete start no runc when runc's state root holds nothing for them (no container to list,
// none of that id to delete); once the state is there, runc is asked. The "runc" here is a script that
// records each start and answers an empty list.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runcDelete, runcList } from '../../src/runtime/runc.js';

const tmp = mkdtempSync(join(tmpdir(), 'runc-without-state-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A fake runc that appends its arguments to a log; the log's path. */
function fakeRunc(name: string): { runc: string; log: string } {
  const log = join(tmp, `${name}.log`);
  const runc = join(tmp, name);
  writeFileSync(runc, `#!/bin/sh\necho "$@" >> ${JSON.stringify(log)}\necho '[]'\n`);
  chmodSync(runc, 0o755);
  return { runc, log };
}

test('runcList: no runc process for an empty or missing state root; runc asked once a container directory is there', async () => {
  const { runc, log } = fakeRunc('list-runc');
  const state = join(tmp, 'state');
  assert.deepEqual(await runcList(state, runc), [], 'missing root');
  mkdirSync(state);
  assert.deepEqual(await runcList(state, runc), [], 'empty root');
  assert.equal(existsSync(log), false, 'runc was not started');
  mkdirSync(join(state, 'c1'));
  assert.deepEqual(await runcList(state, runc), []);
  assert.equal(readFileSync(log, 'utf8'), `--root ${state} list --format json\n`, 'runc asked once');
});

test('runcDelete: no runc process when the container has no state directory (a foreground run removed it); runc asked when it has', async () => {
  const { runc, log } = fakeRunc('delete-runc');
  const state = join(tmp, 'delete-state');
  mkdirSync(join(state, 'other'), { recursive: true });
  await runcDelete(state, 'c1', { force: true, runc });
  assert.equal(existsSync(log), false, 'runc was not started');
  mkdirSync(join(state, 'c1'));
  await runcDelete(state, 'c1', { force: true, runc });
  assert.equal(readFileSync(log, 'utf8'), `--root ${state} delete --force c1\n`, 'runc asked once');
});
