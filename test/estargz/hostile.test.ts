// Hostile input for the reader: random byte flips in the TOC member, the footer and data members must end
// in a CtrError or in verified-correct bytes — never in a crash, a hang or unverified wrong content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openEStargz } from '../../src/estargz/reader.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { isCtrError } from '../../src/errors.js';
import { buildFromTar } from './helpers.js';
import { FIXTURE_CHUNK, fixtureFiles, fixtureTar } from './fixture-layer.js';

// Deterministic xorshift so a failure reproduces.
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

test('flipped bytes anywhere: open and reads fail with CtrError or return the true content', async () => {
  const { blob } = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK, level: 1 });
  const files = fixtureFiles();
  const rand = rng(0x5eed);
  let opened = 0;
  let refusedReads = 0;
  for (let i = 0; i < 300; i++) {
    const bad = Buffer.from(blob);
    const flips = 1 + Math.floor(rand() * 3);
    // Half the cases aim at the TOC member and footer, half anywhere.
    const tail = Math.min(bad.length, 2048);
    for (let f = 0; f < flips; f++) {
      const pos = i % 2 ? bad.length - 1 - Math.floor(rand() * tail) : Math.floor(rand() * bad.length);
      bad[pos] = (bad[pos] ?? 0) ^ (1 << Math.floor(rand() * 8));
    }
    let rd;
    try {
      rd = await openEStargz(new BufferRangeReader(bad));
    } catch (e) {
      assert.ok(isCtrError(e), `case ${i}: open threw a non-CtrError: ${String(e)}`);
      continue;
    }
    opened++;
    for (const [name, data] of files) {
      const e = rd.lookup(name);
      if (!e || e.type !== 'reg') continue;
      try {
        const got = await rd.readFile(e, 0, data.length);
        if (rd.tocDigest !== (await openEStargz(new BufferRangeReader(blob))).tocDigest) continue; // a TOC that still parses may describe other files
        assert.deepEqual(got, data, `case ${i}: ${name} returned wrong bytes`);
      } catch (err) {
        assert.ok(isCtrError(err), `case ${i}: reading ${name} threw a non-CtrError: ${String(err)}`);
        refusedReads++;
      }
    }
  }
  assert.ok(opened > 50, `some corrupted blobs still open (${opened})`);
  assert.ok(refusedReads > 20, `corrupted data members are refused (${refusedReads})`);
});
