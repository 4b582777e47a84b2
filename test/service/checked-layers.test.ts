// The layers a check opened, kept for their mount: taken once, only for the TOC digest asked, bounded by
// the entries held; a lazy layer that is not taken is closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EStargzReader } from '../../src/estargz/reader.js';
import type { LazyLayer } from '../../src/layer/lazy-layer.js';
import { CheckedLayers } from '../../src/service/checked-layers.js';

const reader = (tocDigest: string, entries: number) => ({ tocDigest, summary: { entries, regBytes: 0 } }) as unknown as EStargzReader;
/** A started lazy layer (as a check keeps it: a promise) that counts its closes. */
function lazy(): Promise<LazyLayer> & { closed: number } {
  const l = { close: async () => void p.closed++ };
  const p = Object.assign(Promise.resolve(l as unknown as LazyLayer), { closed: 0 });
  return p;
}

/** Let the closes that wait for their layer to start run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('a checked layer is taken once, for its TOC digest; another digest gets nothing and closes its lazy layer', async () => {
  const kept = new CheckedLayers();
  const a = reader('sha256:toc-a', 10);
  const la = lazy();
  assert.equal(kept.put('sha256:a', { reader: a, lazy: la }), true);
  const got = kept.take('sha256:a', 'sha256:toc-a');
  assert.equal(got?.reader, a);
  assert.equal(got?.lazy, la);
  assert.equal(kept.take('sha256:a', 'sha256:toc-a'), undefined, 'taken once');
  assert.equal(la.closed, 0, 'the taker owns it');
  const lb = lazy();
  kept.put('sha256:b', { reader: reader('sha256:toc-b', 10), lazy: lb });
  assert.equal(kept.take('sha256:b', 'sha256:other'), undefined);
  await settle();
  assert.equal(lb.closed, 1, 'a TOC other than the one asked for is not served, its lazy layer closed');
  kept.put('sha256:c', { reader: reader('sha256:toc-c', 10) });
  assert.ok(kept.take('sha256:c', undefined), 'no digest asked: any');
});

test('the entries held are bounded; replacing or clearing closes what is dropped', async () => {
  const kept = new CheckedLayers();
  const first = lazy();
  assert.equal(kept.put('sha256:a', { reader: reader('t', 600_000), lazy: first }), true);
  assert.equal(kept.fits(500_000), false);
  assert.equal(kept.put('sha256:b', { reader: reader('t', 500_000) }), false, 'over 1 Mi entries in all');
  assert.equal(kept.take('sha256:b', undefined), undefined);
  const second = lazy();
  kept.put('sha256:a', { reader: reader('t', 600_000), lazy: second });
  await settle();
  assert.equal(first.closed, 1, 'the layer replaced is closed');
  assert.equal(kept.fits(400_000), true, 'the replaced entries no longer count');
  await kept.clear();
  await settle();
  assert.equal(second.closed, 1);
  assert.equal(kept.fits(1 << 20), true);
});

test('a lazy layer that failed to start is dropped without a close, and nothing is thrown', async () => {
  const kept = new CheckedLayers();
  const failed = Promise.reject(new Error('index refused'));
  failed.catch(() => undefined);
  kept.put('sha256:a', { reader: reader('t', 10), lazy: failed });
  kept.put('sha256:a', { reader: reader('t', 10) }); // replaces it: closeStarted of a rejected start
  await settle();
  assert.equal(kept.take('sha256:a', undefined)?.lazy, undefined);
});
