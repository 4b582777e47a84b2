// The labels of the remote-snapshot protocol: both label sets (ctr-remote/nerdctl's stargz.*, the CRI
// plugin's cri.*), what makes a Prepare a remote one, and what a remote snapshot keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { remoteLayerOf, remoteLayerOfSnapshot, remoteSnapshotLabels, REMOTE_LABEL, TARGET_LABEL, TOC_DIGEST_LABEL } from '../../src/snapshot/remote-labels.js';

const digest = `sha256:${'a'.repeat(64)}`;
const toc = `sha256:${'b'.repeat(64)}`;

test('a Prepare asks for a remote layer with a target and either label set; without them it is a normal Prepare', () => {
  const stargz = {
    [TARGET_LABEL]: 'sha256:chain',
    'containerd.io/snapshot/remote/stargz.reference': 'registry.example/app:1',
    'containerd.io/snapshot/remote/stargz.digest': digest,
    'containerd.io/snapshot/remote/stargz.layers': `${digest},sha256:next`,
    [TOC_DIGEST_LABEL]: toc,
  };
  assert.deepEqual(remoteLayerOf(stargz), { target: 'sha256:chain', layer: { ref: 'registry.example/app:1', digest, tocDigest: toc, layers: [digest, 'sha256:next'] } });
  const cri = {
    [TARGET_LABEL]: 'sha256:chain',
    'containerd.io/snapshot/cri.image-ref': 'registry.example/app:1',
    'containerd.io/snapshot/cri.layer-digest': digest,
    'containerd.io/snapshot/cri.manifest-digest': 'sha256:m',
  };
  assert.deepEqual(remoteLayerOf(cri), { target: 'sha256:chain', layer: { ref: 'registry.example/app:1', digest, manifestDigest: 'sha256:m' } });
  assert.equal(remoteLayerOf({ [TARGET_LABEL]: 'sha256:chain' }), undefined, 'plain ctr pull: no layer labels');
  assert.equal(remoteLayerOf({ 'containerd.io/snapshot/cri.image-ref': 'x', 'containerd.io/snapshot/cri.layer-digest': digest }), undefined, 'no target');
  assert.equal(remoteLayerOf(undefined), undefined);
});

test('a remote snapshot keeps what mounting it again needs, and only such a snapshot names a layer', () => {
  const labels = remoteSnapshotLabels({ ref: 'r/app:1', digest, tocDigest: toc });
  assert.equal(labels[REMOTE_LABEL], 'remote snapshot');
  assert.deepEqual(remoteLayerOfSnapshot(labels), { ref: 'r/app:1', digest, tocDigest: toc });
  assert.equal(remoteLayerOfSnapshot({ 'containerd.io/snapshot/remote/stargz.digest': digest }), undefined);
});
