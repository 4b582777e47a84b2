// containerd's filter syntax over snapshots: the unpacker's adoption query, every operator, quoting and
// escapes, OR across filters, AND within one, and syntax errors named with their position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isCtrError } from '../../src/errors.js';
import { parseFilter, snapshotFilter } from '../../src/snapshot/list-filter.js';
import type { SnapshotInfo } from '../../src/snapshot/snapshotter.js';

const info = (name: string, kind: SnapshotInfo['kind'], parent: string | undefined, labels: Record<string, string>): SnapshotInfo => ({
  name, kind, labels, created: '', updated: '', ...(parent ? { parent } : {}),
});
const all = [
  info('sha256:base', 'committed', undefined, { 'containerd.io/snapshot.ref': 'sha256:base', 'a.b': 'dotted' }),
  info('sha256:top', 'committed', 'sha256:base', { 'containerd.io/snapshot.ref': 'sha256:top' }),
  info('ns/3/work', 'active', 'sha256:top', { note: 'has, comma' }),
];
const names = (...filters: string[]) => all.filter(snapshotFilter(filters)).map((i) => i.name);

test('the unpacker\'s query: a quoted label key, == and an empty quoted parent', () => {
  assert.deepEqual(names('labels."containerd.io/snapshot.ref"==sha256:base,parent==""'), ['sha256:base']);
  assert.deepEqual(names('labels."containerd.io/snapshot.ref"==sha256:top,parent=="sha256:base"'), ['sha256:top']);
  assert.deepEqual(names('labels."containerd.io/snapshot.ref"==sha256:top,parent=="other"'), []);
});

test('operators: presence, !=, ~= (unanchored, quoted with / or |), kind and name', () => {
  assert.deepEqual(names('labels.note'), ['ns/3/work']);
  assert.deepEqual(names('kind!=committed'), ['ns/3/work']);
  assert.deepEqual(names('labels.missing!=x'), all.map((i) => i.name), 'an absent field is "" for !=');
  assert.deepEqual(names('name~=/^sha256:/'), ['sha256:base', 'sha256:top']);
  assert.deepEqual(names('name~=|wor|'), ['ns/3/work']);
  assert.deepEqual(names('labels.a.b==dotted'), ['sha256:base'], 'the rest of the path is the key, joined by dots');
  assert.deepEqual(names('labels.note=="has, comma"'), ['ns/3/work']);
  assert.deepEqual(names('labels.note=="has\\x2c comma"'), ['ns/3/work'], 'Go escapes in quotes');
});

test('several filters match when any does; none matches everything', () => {
  assert.deepEqual(names('kind==active', 'name==sha256:base'), ['sha256:base', 'ns/3/work']);
  assert.deepEqual(names(), all.map((i) => i.name));
  assert.deepEqual(names(''), all.map((i) => i.name));
});

test('syntax errors are InvalidArgument naming the filter and the position', () => {
  for (const bad of ['labels.bad syntax', 'name==', '==x', 'labels."open', 'name~=/(/', 'name==a,', '1abc==x']) {
    assert.throws(() => parseFilter(bad), (e: unknown) => isCtrError(e, 'InvalidArgument') && e.message.includes(JSON.stringify(bad)) && /position \d+|regular expression/.test(e.message), bad);
  }
});
