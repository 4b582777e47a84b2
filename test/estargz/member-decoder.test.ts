// The one decode-and-verify path (src/estargz/member-decoder.ts) and its one error policy, on members whose
// chunks come from a real TOC index.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { isCtrError } from '../../src/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { decodeMember } from '../../src/estargz/member-decoder.js';
import { TocIndex } from '../../src/estargz/toc-index.js';
import type { Member } from '../../src/estargz/toc-node.js';
import type { TOCEntry } from '../../src/estargz/toc-types.js';
import { compressFrame } from '../../src/estargz/zstd-frame.js';

/** The first member of a TOC whose files share one member at offset 0 (`innerOffset`, as --estargz-min-chunk-size writes). */
function sharedMember(files: { name: string; inner: number; size: number; digest?: string }[]): Member {
  const entries: TOCEntry[] = files.map((f) => ({ name: f.name, type: 'reg', size: f.size, innerOffset: f.inner, ...(f.digest ? { chunkDigest: f.digest } : {}) }));
  return TocIndex.build(entries, 1 << 20).members[0]!;
}

describe('decodeMember', () => {
  const payload = Buffer.from('aaaabbbbbbcc');
  const trailer = Buffer.alloc(1024); // a tar header and padding after the payload, same member
  const gz = Buffer.concat([gzipSync(Buffer.concat([payload, trailer])), gzipSync(Buffer.from('next member'))]);

  test('cuts chunks shared in one member (innerOffset) and verifies each', async () => {
    const m = sharedMember([
      { name: 'a', inner: 0, size: 4, digest: sha256Digest('aaaa') },
      { name: 'b', inner: 4, size: 6, digest: sha256Digest('bbbbbb') },
      { name: 'c', inner: 10, size: 2, digest: sha256Digest('xx') },
    ]);
    const results = await decodeMember(m, gz, 'gzip');
    assert.equal('data' in results[0]! && results[0].data.toString(), 'aaaa');
    assert.equal('data' in results[1]! && results[1].data.toString(), 'bbbbbb');
    const bad = results[2]!;
    assert.ok('error' in bad);
    assert.equal(bad.error.code, 'DigestMismatch');
    assert.match(bad.error.message, /^c chunk at 0: content sha256:\w+ does not match/);
  });

  test('no digest → Unsupported unless verification is skipped', async () => {
    const noDigest = sharedMember([{ name: 'f', inner: 0, size: 4 }]);
    const [r] = await decodeMember(noDigest, gz, 'gzip');
    assert.ok(r && 'error' in r && r.error.code === 'Unsupported', r && 'error' in r ? r.error.message : 'served');
    const [skipped] = await decodeMember(noDigest, gz, 'gzip', { skipVerify: true });
    assert.ok(skipped && 'data' in skipped && skipped.data.toString() === 'aaaa');
  });

  test('one policy for gzip and zstd: a member that is not one, or ends before its chunks do, is DigestMismatch for each chunk', async () => {
    const zst = compressFrame(payload, 3);
    for (const [compression, good] of [['gzip', gz], ['zstd', zst]] as const) {
      const short = sharedMember([{ name: 'ok', inner: 0, size: 4, digest: sha256Digest('aaaa') }, { name: 'long', inner: 4, size: 5000, digest: sha256Digest('') }]);
      const shortResults = await decodeMember(short, good, compression);
      assert.deepEqual(shortResults.map((x) => 'error' in x && x.error.code), ['DigestMismatch', 'DigestMismatch'], compression);
      assert.match('error' in shortResults[0]! ? shortResults[0].error.message : '', /^ok, long: member at offset 0 does not decompress: .*(ends after|5004)/);
      const garbage = await decodeMember(sharedMember([{ name: 'g', inner: 0, size: 4, digest: sha256Digest('aaaa') }]), Buffer.from('not compressed at all'), compression);
      assert.ok('error' in garbage[0]! && garbage[0].error.code === 'DigestMismatch' && /does not decompress/.test(garbage[0].error.message), compression);
    }
  });

  test('an aborted decode is Aborted, not a verification failure', async () => {
    const m = sharedMember([{ name: 'a', inner: 0, size: 4, digest: sha256Digest('aaaa') }]);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(decodeMember(m, gz, 'gzip', { signal: ac.signal }), (e: unknown) => isCtrError(e, 'Aborted'));
  });
});
