// The pure view of a root's snapshots (image/snapshots/snapshot-view.ts): chain IDs as keys and parents,
// lazy layers as committed snapshots with their TOC label, layers shared by two images once, a container on
// the top of the chain that has its unpacked layers, an unpacked layer no image has named by its digest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIds } from '../../src/oci/chain-id.js';
import { childrenOf, LAYER_LABEL, rootSnapshots, TOC_LABEL, type ImageChain } from '../../src/image/snapshots/snapshot-view.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const T = '2026-01-01T00:00:00.000Z';

test('layers become committed snapshots named by chain ID; lazy ones too; shared ones once', () => {
  const a: ImageChain = { image: 'a:1', layers: [{ digest: d('1'), diffId: d('a') }, { digest: d('2'), diffId: d('b') }], lazy: new Set() };
  const b: ImageChain = { image: 'b:1', layers: [{ digest: d('1'), diffId: d('a') }, { digest: d('3'), diffId: d('c'), tocDigest: d('f') }], lazy: new Set([d('3')]), pulledAt: T };
  const unpacked = [{ digest: d('1'), dir: '/r/snapshots/sha256-1/fs', created: T }, { digest: d('2'), dir: '/r/snapshots/sha256-2/fs', created: T }, { digest: d('9'), dir: '/r/snapshots/sha256-9/fs', created: T }];
  const users = new Map([[d('2'), ['container c1']]]);
  const snaps = rootSnapshots([a, b], unpacked, [{ id: 'c1', image: 'a:1', linkedLayers: [d('1'), d('2')], upper: '/r/containers/c1/upper', created: T, live: true }], users);
  const [ca0, ca1] = chainIds([d('a'), d('b')]);
  const cb1 = chainIds([d('a'), d('c')])[1]!;
  assert.equal(ca0, d('a'), 'the base layer\'s chain ID is its diff ID');
  const by = new Map(snaps.map((s) => [s.name, s]));
  assert.deepEqual([...by.keys()].sort(), [ca0!, ca1!, cb1, d('9'), 'c1'].sort());
  assert.deepEqual(by.get(ca0!)!.images, ['a:1', 'b:1']);
  assert.deepEqual([by.get(ca1!)!.parent, by.get(ca1!)!.source, by.get(ca1!)!.users, by.get(ca1!)!.labels[LAYER_LABEL]], [ca0, 'unpacked', ['container c1'], d('2')]);
  assert.deepEqual([by.get(cb1)!.source, by.get(cb1)!.dir, by.get(cb1)!.labels[TOC_LABEL], by.get(cb1)!.created], ['lazy', undefined, d('f'), T]);
  assert.deepEqual([by.get(d('9'))!.parent, by.get(d('9'))!.images], [undefined, []]);
  assert.deepEqual([by.get('c1')!.kind, by.get('c1')!.parent, by.get('c1')!.users], ['active', ca1, ['container c1']]);
  assert.deepEqual(childrenOf(snaps, ca0!).map((s) => s.name).sort(), [ca1!, cb1].sort());
});

test('a layer neither unpacked nor lazy is no snapshot; its children still name it as parent', () => {
  const a: ImageChain = { image: 'a:1', layers: [{ digest: d('1'), diffId: d('a') }, { digest: d('2'), diffId: d('b') }], lazy: new Set() };
  const snaps = rootSnapshots([a], [{ digest: d('2'), dir: '/x', created: T }], [], new Map());
  assert.deepEqual(snaps.map((s) => [s.name, s.parent]), [[chainIds([d('a'), d('b')])[1], d('a')]]);
});

test('a container whose image has two platforms takes the chain holding its unpacked layers; none when it cannot tell', () => {
  const amd: ImageChain = { image: 'm:1', layers: [{ digest: d('1'), diffId: d('a') }], lazy: new Set() };
  const arm: ImageChain = { image: 'm:1', layers: [{ digest: d('2'), diffId: d('b') }], lazy: new Set() };
  const c = { id: 'c', image: 'm:1', upper: '/u', created: T, live: false };
  assert.equal(rootSnapshots([amd, arm], [], [{ ...c, linkedLayers: [d('2')] }], new Map()).find((s) => s.name === 'c')!.parent, d('b'));
  const unknown = rootSnapshots([amd, arm], [], [{ ...c, linkedLayers: [] }], new Map()).find((s) => s.name === 'c')!;
  assert.deepEqual([unknown.parent, unknown.users], [undefined, []]);
});
