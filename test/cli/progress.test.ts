// The progress views: ora on a TTY (bytes and rate per blob, finished blobs persisted), plain lines
// otherwise, nothing with --json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliIo } from '../../src/cli/cli-io.js';
import { progressView } from '../../src/cli/progress.js';

function fakeIo(isTTY: boolean): { io: CliIo; err: () => string } {
  const pt = new PassThrough();
  // What ora needs of a tty.WriteStream, writing the same escape sequences.
  const tty = {
    isTTY, columns: 100, rows: 30,
    cursorTo: (x: number) => pt.write(`\x1b[${x + 1}G`),
    moveCursor: (_dx: number, dy: number) => pt.write(dy < 0 ? `\x1b[${-dy}A` : ''),
    clearLine: () => pt.write('\x1b[2K'),
  };
  const stderr = Object.assign(pt, tty);
  const chunks: Buffer[] = [];
  stderr.on('data', (c: Buffer) => chunks.push(c));
  return { io: { stdout: new PassThrough(), stderr, isTTY, color: false, env: {} }, err: () => Buffer.concat(chunks).toString() };
}

const D = `sha256:${'ab'.repeat(32)}`;
const E = `sha256:${'cd'.repeat(32)}`;

test('on a TTY the spinner shows bytes and rate of blobs in flight and persists finished ones', async () => {
  const { io, err } = fakeIo(true);
  const view = await progressView(io, { title: 'pulling x' });
  view.onProgress({ digest: D, mediaType: 'l', done: 0, total: 2 << 20, state: 'started' });
  view.onProgress({ digest: D, mediaType: 'l', done: 1 << 20, total: 2 << 20, state: 'progress' });
  await sleep(200); // a few spinner frames
  view.onProgress({ digest: E, mediaType: 'l', done: 10, total: 10, state: 'skipped' });
  view.onProgress({ digest: D, mediaType: 'l', done: 2 << 20, total: 2 << 20, state: 'done' });
  view.finish();
  const out = err();
  assert.match(out, /pulling x/);
  assert.match(out, /sha256:abababababab {2}1\.0 MiB \/ 2\.0 MiB \(50%\) {2}\S+ \S+\/s/);
  assert.match(out, /exists +sha256:cdcdcdcdcdcd {2}10 B/);
  assert.match(out, /done +sha256:abababababab {2}2\.0 MiB/);
  assert.doesNotMatch(out, /\x1b\[3\dm/, 'no colors when color is off');
});

test('without a TTY only finished blobs are printed, one plain line each', async () => {
  const { io, err } = fakeIo(false);
  const view = await progressView(io, { title: 'pulling x' });
  view.onProgress({ digest: D, mediaType: 'l', done: 0, total: 100, state: 'started' });
  view.onProgress({ digest: D, mediaType: 'l', done: 50, total: 100, state: 'progress' });
  view.onProgress({ digest: D, mediaType: 'l', done: 100, total: 100, state: 'done' });
  view.onProgress({ digest: E, mediaType: 'l', done: 10, total: 10, state: 'mounted' });
  view.finish();
  const lines = err().trimEnd().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /^done +sha256:abababababab {2}100 B {2}\d+\.\ds {2}\S+ \S+\/s$/);
  assert.match(lines[1]!, /^mounted +sha256:cdcdcdcdcdcd {2}10 B$/);
  assert.doesNotMatch(err(), /\x1b/, 'no escape sequences');
});

test('--json silences progress', async () => {
  const { io, err } = fakeIo(true);
  const view = await progressView(io, { json: true, title: 't' });
  view.onProgress({ digest: D, mediaType: 'l', done: 1, total: 1, state: 'done' });
  view.finish();
  assert.equal(err(), '');
});
