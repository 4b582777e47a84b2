// The labels of the remote-snapshot protocol: both label sets (ctr-remote/nerdctl's stargz.*, the CRI
// plugin's cri.*), what makes a Prepare a remote one, and what a remote snapshot keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Annotation } from '../../src/oci/media-types.js';
import { tocTailGuess } from '../../src/estargz/toc-tail.js';
import { DEFAULT_MAX_TOC_SIZE } from '../../src/estargz/toc-json.js';
import { FOOTER_SIZE } from '../../src/estargz/footer.js';
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

test("a layer's toc.tail-size label sizes the first TOC request, is kept with the snapshot, and is bounded", () => {
  const base = { [TARGET_LABEL]: 'sha256:chain', 'containerd.io/snapshot/remote/stargz.reference': 'r/app:1', 'containerd.io/snapshot/remote/stargz.digest': digest, [TOC_DIGEST_LABEL]: toc };
  const layer = remoteLayerOf({ ...base, [Annotation.TocTailSize]: '388731' })?.layer;
  assert.equal(layer?.tocTail, 388731);
  assert.equal(remoteLayerOfSnapshot(remoteSnapshotLabels(layer!))?.tocTail, 388731, 'kept, so that a remount after a restart needs one request too');
  for (const bad of ['', '0', '-5', '12abc', '1e6', ' 12', '0x10']) assert.equal(remoteLayerOf({ ...base, [Annotation.TocTailSize]: bad })?.layer.tocTail, undefined, `"${bad}" is not a byte count`);
  assert.equal(remoteLayerOf({ ...base, [Annotation.TocTailSize]: '9999999999999' })?.layer.tocTail, tocTailGuess(String(DEFAULT_MAX_TOC_SIZE * 4)), 'an absurd size asks for at most the largest TOC we accept and a footer');
  assert.ok(tocTailGuess(String(DEFAULT_MAX_TOC_SIZE * 4))! < DEFAULT_MAX_TOC_SIZE + 100);
  assert.equal(tocTailGuess('3'), FOOTER_SIZE, 'at least the largest footer (eStargz: 51 bytes, zstd:chunked: 48)');
});
