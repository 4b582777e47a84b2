// Chain IDs as the image spec defines them (config.md, "Layer ChainID").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chainIds } from '../../src/oci/chain-id.js';

test('chain IDs: the first is the first diff ID, each next one hashes the previous with the next diff ID', () => {
  const d = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
  const [a, b, c] = [d('a'), d('b'), d('c')];
  const ids = chainIds([a, b, c]);
  assert.equal(ids[0], a);
  assert.equal(ids[1], d(`${a} ${b}`));
  assert.equal(ids[2], d(`${ids[1]} ${c}`));
  assert.deepEqual(chainIds([]), []);
});
