// `--json` output of a failing command: one JSON document on stdout, {"error": {code, op, subject, message}}
// (docs/DECISIONS.md), while stderr keeps its one human line and the exit codes stay 1 and 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, cliProcess, type CliRun } from './cli-harness.js';

let tmp: string;
let basic: RegistryFixture;
const root = () => join(tmp, 'root');

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-json-errors-'));
  basic = await startRegistry({ auth: 'htpasswd' });
});
after(async () => {
  await basic?.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** The one JSON document on stdout (JSON.parse fails on anything else), and the human line on stderr. */
function parsed(r: CliRun): { json: unknown; line: string } {
  const lines = r.stderr.split('\n').filter((l) => l);
  assert.equal(lines.length, 1, `one line on stderr: ${r.stderr}`);
  return { json: JSON.parse(r.stdout) as unknown, line: lines[0]! };
}

describe('--json errors', () => {
  test('usage errors found by the parser (exit 2): the object names the command, no subject', async () => {
    const r = await cliProcess(['image', 'pull', '--json', '--platform', 'linux/bogus', 'x']);
    assert.equal(r.code, 2, r.stderr);
    const { json, line } = parsed(r);
    assert.equal(line, `ctr-remote: option '--platform <os/arch[/variant]>' argument 'linux/bogus' is invalid. Unknown architecture "bogus" (want os/arch[/variant], e.g. linux/arm64) (see 'ctr-remote image pull --help')`);
    assert.deepEqual(json, { error: { code: 'InvalidArgument', op: 'pull', subject: null, message: line.slice('ctr-remote: '.length) } });
    // commander stops at an unknown option, before it reaches --json: the object is printed all the same
    const unknown = await cli(['image', 'ls', '--bogus', '--json']);
    assert.equal(unknown.code, 2);
    assert.deepEqual(parsed(unknown).json, { error: { code: 'InvalidArgument', op: 'ls', subject: null, message: "unknown option '--bogus' (see 'ctr-remote image ls --help')" } });
    // without --json, stdout stays empty
    const plain = await cli(['image', 'ls', '--bogus']);
    assert.deepEqual([plain.code, plain.stdout], [2, '']);
  });

  test('usage errors found by the command (exit 2): the object names the command and its argument', async () => {
    const r = await cli(['--root', root(), 'image', 'convert', '--json', 'app:1', 'out:1']);
    assert.equal(r.code, 2, r.stderr);
    assert.deepEqual(parsed(r).json, {
      error: { code: 'InvalidArgument', op: 'convert', subject: 'app:1', message: 'convert app:1: convert needs exactly one of --estargz, --zstdchunked, --uncompress' },
    });
  });

  test('a registry failure (exit 1): the registry\'s answer, under the command and the reference as given', async () => {
    const ref = `${basic.host}/app:1`;
    const r = await cli(['--root', root(), 'image', 'pull', '--json', ref]);
    assert.equal(r.code, 1, r.stderr);
    const { json, line } = parsed(r);
    const message = `pull ${ref}: unauthorized: authentication required (no credentials for ${basic.host}; use -u or docker login)`;
    assert.equal(line, `ctr-remote: ${message}`);
    assert.deepEqual(json, { error: { code: 'Unauthorized', op: 'pull', subject: ref, message } });
    const missing = await cli(['--root', root(), 'image', 'rpull', '--json', '-u', `${basic.username}:${basic.password}`, `${basic.host}/nope:1`]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.deepEqual(parsed(missing).json, { error: { code: 'NotFound', op: 'rpull', subject: `${basic.host}/nope:1`, message: `rpull ${basic.host}/nope:1: manifest unknown` } });
  });

  test('an image not in the store (exit 1); rm --json reports missing names in its result, not a second document', async () => {
    const r = await cli(['--root', root(), 'image', 'tag', '--json', 'nope:1', 'other:1']);
    assert.equal(r.code, 1);
    const message = `tag nope:1: image docker.io/library/nope:1 not found in ${join(root(), 'store')}`;
    assert.deepEqual(parsed(r), { json: { error: { code: 'NotFound', op: 'tag', subject: 'nope:1', message } }, line: `ctr-remote: ${message}` });
    const status = await cli(['--root', root(), 'image', 'status', '--json', 'nope']);
    assert.equal(status.code, 1);
    assert.deepEqual((parsed(status).json as { error: { code: string; op: string; subject: string } }).error.code, 'NotFound');
    const removed = await cli(['--root', root(), 'image', 'rm', '--json', 'nope']);
    assert.equal(removed.code, 1);
    const result = parsed(removed);
    assert.deepEqual((result.json as { missing: string[] }).missing, ['docker.io/library/nope:latest']);
    assert.equal(result.line, 'ctr-remote: rm docker.io/library/nope:latest: no such image');
  });
});
