import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { sha256Digest } from '../../src/oci/digest.js';
import type { Chunk, Member } from '../../src/layer/chunk-map.js';
import { decodeMember } from '../../src/layer/member-decoder.js';

function member(payload: Buffer, chunks: { inner: number; size: number; digest?: string }[]): Member {
  const m: Member = { offset: 0, end: 0, chunks: [] };
  const file = { name: 'f', type: 'reg' as const, size: payload.length };
  for (const c of chunks) {
    const chunk: Chunk = { file, fileOffset: 0, size: c.size, innerOffset: c.inner, member: m };
    if (c.digest) chunk.digest = c.digest;
    m.chunks.push(chunk);
  }
  return m;
}

describe('decodeMember', () => {
  const payload = Buffer.from('aaaabbbbbbcc');
  const trailer = Buffer.alloc(1024); // a tar header and padding after the payload, same member
  const gz = Buffer.concat([gzipSync(Buffer.concat([payload, trailer])), gzipSync(Buffer.from('next member'))]);

  test('cuts chunks shared in one member (innerOffset) and verifies each', async () => {
    const m = member(payload, [
      { inner: 0, size: 4, digest: sha256Digest('aaaa') },
      { inner: 4, size: 6, digest: sha256Digest('bbbbbb') },
      { inner: 10, size: 2, digest: sha256Digest('xx') },
    ]);
    const results = await decodeMember(m, gz, 'gzip');
    assert.equal('data' in results[0]! && results[0].data.toString(), 'aaaa');
    assert.equal('data' in results[1]! && results[1].data.toString(), 'bbbbbb');
    const bad = results[2]!;
    assert.ok('error' in bad);
    assert.equal(bad.error.code, 'DigestMismatch');
    assert.match(bad.error.message, /f chunk at 0: content sha256:\w+ does not match/);
  });

  test('no digest → Unsupported (as the reader says) unless verification is skipped; short members are DigestMismatch', async () => {
    const noDigest = member(payload, [{ inner: 0, size: 4 }]);
    const [r] = await decodeMember(noDigest, gz, 'gzip');
    assert.ok(r && 'error' in r && r.error.code === 'Unsupported');
    const [skipped] = await decodeMember(noDigest, gz, 'gzip', true);
    assert.ok(skipped && 'data' in skipped && skipped.data.toString() === 'aaaa');
    const [short] = await decodeMember(member(payload, [{ inner: 0, size: 5000, digest: sha256Digest('') }]), gzipSync(payload), 'gzip');
    assert.ok(short && 'error' in short && short.error.code === 'DigestMismatch');
    const [garbage] = await decodeMember(member(payload, [{ inner: 0, size: 4, digest: sha256Digest('aaaa') }]), Buffer.from('not gzip at all'), 'gzip');
    assert.ok(garbage && 'error' in garbage && /does not decompress/.test(garbage.error.message));
  });
});
