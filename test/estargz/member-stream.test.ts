// A gzip member decoded as it streams (src/estargz/member-stream.ts): each chunk's bytes reach its sink in
// order and are kept (commit) only when the whole chunk matched its digest; the same failures as decodeMember.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { CtrError } from '../../src/errors.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { MemberStream, type ChunkSink } from '../../src/estargz/member-stream.js';
import { TAIL_LIMIT } from '../../src/estargz/member-inflate.js';
import { TocIndex } from '../../src/estargz/toc-index.js';
import type { Chunk, Member } from '../../src/estargz/toc-node.js';
import type { TOCEntry } from '../../src/estargz/toc-types.js';

function sharedMember(files: { name: string; inner: number; size: number; digest?: string }[]): Member {
  const entries: TOCEntry[] = files.map((f) => ({ name: f.name, type: 'reg', size: f.size, innerOffset: f.inner, ...(f.digest ? { chunkDigest: f.digest } : {}) }));
  return TocIndex.build(entries, 1 << 20).members[0]!;
}

/** Sinks that record what they were given and how they ended. */
class Sinks {
  readonly got = new Map<string, { bytes: Buffer[]; end?: 'commit' | 'discard' }>();
  failWrites = new Set<string>();
  open = (chunk: Chunk): ChunkSink => {
    const rec: { bytes: Buffer[]; end?: 'commit' | 'discard' } = { bytes: [] };
    this.got.set(chunk.file.path, rec);
    return {
      write: async (piece) => {
        await new Promise((r) => setImmediate(r)); // a write that takes a turn, as a file write does
        if (this.failWrites.has(chunk.file.path)) throw new Error('ENOSPC: no space left on device');
        rec.bytes.push(Buffer.from(piece));
      },
      commit: async () => void (rec.end = 'commit'),
      discard: async () => void (rec.end = 'discard'),
    };
  };
  text(name: string): string {
    return Buffer.concat(this.got.get(name)?.bytes ?? []).toString();
  }
  end(name: string) {
    return this.got.get(name)?.end;
  }
}

async function feed(stream: MemberStream, bytes: Buffer, piece: number) {
  for (let at = 0; at < bytes.length; at += piece) await stream.push(bytes.subarray(at, at + piece));
  return stream.end();
}

describe('MemberStream', () => {
  const payload = Buffer.from('aaaabbbbbbcc');
  const gz = gzipSync(Buffer.concat([payload, Buffer.alloc(1024)])); // a tar header and padding after the payload

  test('chunks sharing a member reach their sinks in order, 3 compressed bytes at a time; only verified ones are committed', async () => {
    const m = sharedMember([
      { name: 'a', inner: 0, size: 4, digest: sha256Digest('aaaa') },
      { name: 'b', inner: 4, size: 6, digest: sha256Digest('bbbbbb') },
      { name: 'c', inner: 10, size: 2, digest: sha256Digest('xx') },
    ]);
    const sinks = new Sinks();
    const out = await feed(new MemberStream(m, sinks.open), gz, 3);
    assert.deepEqual([sinks.text('a'), sinks.end('a')], ['aaaa', 'commit']);
    assert.deepEqual([sinks.text('b'), sinks.end('b')], ['bbbbbb', 'commit']);
    assert.equal(sinks.end('c'), 'discard');
    const bad = out.find((o) => o.chunk.file.path === 'c');
    assert.ok(bad && !bad.ok && bad.error.code === 'DigestMismatch');
    assert.match(bad.error.message, /^c chunk at 0: content sha256:\w+ does not match/);
    assert.deepEqual(out.filter((o) => o.ok).map((o) => o.chunk.file.path).sort(), ['a', 'b']);
  });

  test('a chunk without a sink (already stored) is still verified; one without a digest is Unsupported and gets no sink', async () => {
    const m = sharedMember([{ name: 'a', inner: 0, size: 4, digest: sha256Digest('abcd') }, { name: 'n', inner: 4, size: 6 }]);
    const opened: string[] = [];
    const out = await feed(new MemberStream(m, (c) => void opened.push(c.file.path)), gz, 100);
    assert.deepEqual(opened, ['a']);
    assert.deepEqual(out.map((o) => [o.chunk.file.path, o.ok ? 'ok' : o.error.code]).sort(), [['a', 'DigestMismatch'], ['n', 'Unsupported']]);
  });

  test('a member that ends before its chunks do, or is not gzip, fails each chunk not yet complete with DigestMismatch', async () => {
    const short = sharedMember([{ name: 'ok', inner: 0, size: 4, digest: sha256Digest('aaaa') }, { name: 'long', inner: 4, size: 5000, digest: sha256Digest('') }]);
    const sinks = new Sinks();
    const out = await feed(new MemberStream(short, sinks.open), gz, 7);
    assert.equal(sinks.end('ok'), 'commit', 'a chunk complete and verified before the end is kept');
    assert.equal(sinks.end('long'), 'discard');
    const long = out.find((o) => o.chunk.file.path === 'long');
    assert.ok(long && !long.ok && long.error.code === 'DigestMismatch');
    assert.match(long.error.message, /^ok, long: member at offset 0 does not decompress: it ends after 1036 of 5004 bytes/);

    const garbage = new Sinks();
    const [g] = await feed(new MemberStream(sharedMember([{ name: 'g', inner: 0, size: 4, digest: sha256Digest('aaaa') }]), garbage.open), Buffer.from('not compressed at all'), 5);
    assert.ok(g && !g.ok && g.error.code === 'DigestMismatch' && /does not decompress: bad gzip data/.test(g.error.message), g && !g.ok ? g.error.message : 'ok');
    assert.equal(garbage.end('g'), 'discard');
  });

  test('a bomb after the last chunk is inflated no further than TAIL_LIMIT', async () => {
    const bomb = gzipSync(Buffer.concat([Buffer.from('aaaa'), Buffer.alloc(64 << 20)]));
    const sinks = new Sinks();
    const stream = new MemberStream(sharedMember([{ name: 'a', inner: 0, size: 4, digest: sha256Digest('aaaa') }]), sinks.open);
    const [a] = await feed(stream, bomb, 64 << 10);
    assert.ok(a?.ok);
    assert.equal(sinks.end('a'), 'commit');
    assert.ok(stream.decodedBytes <= 4 + TAIL_LIMIT + (64 << 10) * 2, `${stream.decodedBytes} bytes decoded of a 64 MiB bomb`);
  });

  test('verified bytes the sink cannot write are not committed: Unavailable, discarded, and the push does not fail', async () => {
    const m = sharedMember([{ name: 'a', inner: 0, size: 4, digest: sha256Digest('aaaa') }, { name: 'b', inner: 4, size: 6, digest: sha256Digest('bbbbbb') }]);
    const sinks = new Sinks();
    sinks.failWrites.add('b');
    const out = await feed(new MemberStream(m, sinks.open), gz, 5);
    assert.equal(sinks.end('a'), 'commit');
    assert.equal(sinks.end('b'), 'discard');
    const b = out.find((o) => o.chunk.file.path === 'b');
    assert.ok(b && !b.ok && b.error.code === 'Unavailable' && /storing it failed: ENOSPC/.test(b.error.message), b && !b.ok ? b.error.message : 'ok');
  });

  test('abort fails the chunks not yet complete with its error and discards their sinks', async () => {
    const m = sharedMember([{ name: 'a', inner: 0, size: 4, digest: sha256Digest('aaaa') }, { name: 'b', inner: 4, size: 6, digest: sha256Digest('bbbbbb') }]);
    const sinks = new Sinks();
    const stream = new MemberStream(m, sinks.open);
    const whole = Buffer.concat([gz]);
    // push everything but the end of the deflate stream, so that `b` may be incomplete; then abort
    await stream.push(whole.subarray(0, 12));
    await stream.abort(new CtrError('Aborted', 'layer closed'));
    for (const name of ['a', 'b']) assert.notEqual(sinks.end(name), undefined, `${name} ended`);
    const out = await stream.end();
    for (const o of out) {
      if (o.ok) assert.equal(sinks.end(o.chunk.file.path), 'commit');
      else assert.deepEqual([o.error.code, sinks.end(o.chunk.file.path)], ['Aborted', 'discard']);
    }
    assert.ok(out.some((o) => !o.ok), 'at least one chunk was cut short');
  });
});
