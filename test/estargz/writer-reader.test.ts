import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { openEStargz, type EStargzReader } from '../../src/estargz/reader.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import { parseTarBuffer } from '../../src/tar/reader.js';
import { GzipPool } from '../../src/estargz/gzip-pool.js';
import { isCtrError } from '../../src/errors.js';
import { TocFile, type TocNode } from '../../src/estargz/toc-node.js';
import { buildFromTar } from './helpers.js';
import { FIXTURE_CHUNK, fixtureFiles, fixtureTar } from './fixture-layer.js';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function open(blob: Buffer, tocDigest?: string): Promise<EStargzReader> {
  return openEStargz(new BufferRangeReader(blob), tocDigest ? { tocDigest } : {});
}

/** The regular file at `path`. */
function file(rd: EStargzReader, path: string): TocFile {
  const e: TocNode | undefined = rd.lookup(path);
  assert.ok(e instanceof TocFile, `${path} is a regular file`);
  return e;
}

describe('writer → reader round trip', () => {
  test('every file reads back verified, attributes kept, chunking follows the chunk size', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const rd = await open(r.blob, r.tocDigest);
    assert.equal(rd.tocDigest, r.tocDigest);
    for (const [name, data] of fixtureFiles()) {
      const e = file(rd, name);
      assert.equal(e.size, data.length, name);
      assert.deepEqual(await rd.readFile(e, 0, data.length + 10), data, name);
      assert.equal(e.digest, sha(data), `${name} digest`);
    }
    assert.equal(file(rd, 'bin/exact').chunks.length, 1);
    assert.equal(file(rd, 'bin/plus1').chunks.length, 2);
    assert.equal(file(rd, 'bin/big').chunks.length, 4);
    const big = file(rd, 'bin/big');
    const mid = await rd.readFile(big, FIXTURE_CHUNK - 5, FIXTURE_CHUNK + 10);
    assert.deepEqual(mid, fixtureFiles().get('bin/big')!.subarray(FIXTURE_CHUNK - 5, 2 * FIXTURE_CHUNK + 5));
    assert.equal(rd.index.chunkAt(big, 3 * FIXTURE_CHUNK + 1233)?.fileOffset, 3 * FIXTURE_CHUNK);
    assert.equal(rd.index.chunkAt(big, 3 * FIXTURE_CHUNK + 1234), undefined);

    const hosts = rd.lookup('etc/hosts')!;
    assert.deepEqual([hosts.uid, hosts.gid, hosts.extra?.userName, hosts.extra?.groupName], [300000, 300001, 'big', 'biggrp']);
    assert.equal(rd.lookup('etc')!.mtime, Date.parse('2020-09-13T12:26:41Z') / 1000, 'mtime 1600000000.6 rounds up');
    assert.deepEqual(rd.lookup('etc/xattr')!.extra?.xattrs, { 'security.capability': 'Y2Fw', 'user.bin': Buffer.from([0, 255, 10, 0x80]).toString('base64') });
    assert.equal(rd.lookup('setuid')!.mode, 0o4755);
    assert.equal(rd.lookup('bin/sh')!.linkName, 'busybox');
    assert.equal(rd.lookup('bin/hard'), rd.lookup('bin/exact'), 'hardlink resolves to its target');
    assert.equal(rd.lookup('bin/exact')!.numLink, 2);
    assert.equal(rd.lookup('bin/hard')!.path, 'bin/exact', 'a hardlinked node keeps its first name');
    assert.deepEqual([rd.lookup('dev/null')!.type, rd.lookup('dev/null')!.extra?.devMajor, rd.lookup('dev/null')!.extra?.devMinor], ['char', 1, 3]);
    assert.equal(rd.lookup('dev/fifo')!.type, 'fifo');
    const orphan = rd.lookup('orphan')!;
    assert.deepEqual([orphan.path, orphan.type, orphan.mode, orphan.uid, orphan.gid, orphan.mtime, orphan.numLink], ['orphan', 'dir', 0o755, 0, 0, 0, 3], 'missing parent synthesized');
    assert.deepEqual([...rd.children('orphan/child').keys()], ['file']);
    assert.deepEqual([...rd.children('').keys()].sort(), ['.no.prefetch.landmark', 'bin', 'café', 'deep', 'dev', 'dup', 'etc', 'orphan', 'setuid']);
    assert.equal(rd.lookup('stargz.index.json'), undefined, 'input TOC dropped');
  });

  test('blob layout: concatenated members are the tar, landmark first, TOC last, diffID and size match', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const tar = gunzipSync(r.blob);
    assert.equal(r.diffId, sha(tar));
    assert.equal(r.uncompressedSize, tar.length);
    assert.equal(r.blobDigest, sha(r.blob));
    assert.deepEqual(tar.subarray(tar.length - 1024), Buffer.alloc(1024), 'ends with the end-of-archive blocks');
    const names = parseTarBuffer(tar).map((e) => e.header.name);
    assert.equal(names[0], '.no.prefetch.landmark');
    assert.equal(names.at(-1), 'stargz.index.json');
    assert.equal(names.filter((n) => n === 'dup').length, 1);
    assert.equal(names.filter((n) => n.endsWith('.landmark')).length, 1);
    // Each data entry's offset starts a gzip member whose first bytes are that chunk.
    const rd = await open(r.blob);
    for (const [name, data] of fixtureFiles()) {
      for (const c of file(rd, name).chunks) {
        const member = gunzipSync(r.blob.subarray(c.member.offset, c.member.end));
        assert.deepEqual(member.subarray(0, c.size), data.subarray(c.fileOffset, c.fileOffset + c.size), `${name}@${c.fileOffset}`);
      }
    }
    const tocMember = gunzipSync(r.blob.subarray(rd.tocOffset, r.blob.length - 51));
    assert.equal(parseTarBuffer(tocMember)[0]?.header.name, 'stargz.index.json', 'TOC in its own member');
  });

  test('deterministic: same input and options give the same bytes with 0, 1 or 2 workers', async () => {
    const tar = fixtureTar();
    const digests = new Set<string>();
    for (const workers of [0, 1, 2]) {
      const pool = new GzipPool({ workers, level: 6 });
      try {
        digests.add((await buildFromTar(tar, { chunkSize: FIXTURE_CHUNK, pool })).blobDigest);
      } finally {
        await pool.close();
      }
    }
    assert.equal(digests.size, 1);
  });

  test('prioritized files come first after their parents and hardlink targets, then .prefetch.landmark', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK, prioritizedFiles: ['/orphan/child/file', 'bin/hard', 'not/there', 'etc/hosts'] });
    const names = r.toc.entries.filter((e) => e.type !== 'chunk').map((e) => e.name);
    assert.deepEqual(names.slice(0, 10), [
      './', 'orphan/', 'orphan/child/', 'orphan/child/file', 'bin/', 'bin/exact', 'bin/hard', 'etc/', 'etc/hosts', '.prefetch.landmark',
    ]);
    assert.deepEqual(r.missedPrioritized, ['not/there']);
    assert.equal(names.filter((n) => n.endsWith('.landmark')).length, 1);
    const rd = await open(r.blob, r.tocDigest);
    assert.deepEqual(await rd.readFile(rd.lookup('orphan/child/file')!, 0, 100), Buffer.from('parent dirs have no entries'));
    const landmark = file(rd, '.prefetch.landmark');
    assert.deepEqual(await rd.readFile(landmark, 0, 1), Buffer.from([0x0f]));
    assert.ok(file(rd, 'etc/hosts').chunks[0]!.member.offset < landmark.chunks[0]!.member.offset, 'prioritized payloads lie before the landmark');
    assert.equal(rd.index.prefetchEnd, landmark.chunks[0]!.member.offset);
  });

  test('min chunk size packs small files into shared members read through innerOffset', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK, minChunkSize: 1 << 20 });
    const rd = await open(r.blob, r.tocDigest);
    const inner = r.toc.entries.filter((e) => (e.innerOffset ?? 0) > 0);
    assert.ok(inner.length >= 5, `${inner.length} entries share members`);
    for (const [name, data] of fixtureFiles()) assert.deepEqual(await rd.readFile(rd.lookup(name)!, 0, data.length), data, name);
    assert.equal(sha(gunzipSync(r.blob)), r.diffId);
  });
});

describe('zstd:chunked', () => {
  test('frames per chunk, TOC in a skippable frame, 40-byte footer; our reader reads it back verified', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK, compression: 'zstd', level: 3 });
    assert.deepEqual([...r.blob.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'starts with a zstd frame');
    assert.equal(r.blob.subarray(r.blob.length - 8).toString('latin1'), 'GnUlInUx');
    const rd = await open(r.blob, r.tocDigest);
    assert.equal(rd.format, 'zstd');
    for (const [name, data] of fixtureFiles()) assert.deepEqual(await rd.readFile(rd.lookup(name)!, 0, data.length), data, name);
    const { decompressUpTo } = await import('../../src/estargz/zstd-frame.js');
    const tar = decompressUpTo(r.blob, 1 << 30);
    assert.equal(sha(tar), r.diffId, 'frames (skippable ones ignored) decompress to the tar of the diffID');
    assert.equal(parseTarBuffer(tar).at(-1)?.header.name, 'dup');
  });
});

describe('reader verification and bad input', () => {
  test('TOC digest mismatch and a corrupted chunk are DigestMismatch', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK, level: 1 });
    await assert.rejects(open(r.blob, `sha256:${'0'.repeat(64)}`), (e) => isCtrError(e, 'DigestMismatch'));
    const rd = await open(r.blob);
    const c = file(rd, 'bin/big').chunks[1]!;
    // Same data, but a TOC that claims other bytes for chunk 1: the read must refuse the data.
    const { serializeTOC } = await import('../../src/estargz/toc-json.js');
    const { encodeTar } = await import('../../src/tar/writer.js');
    const { buildFooter } = await import('../../src/estargz/footer.js');
    const { gzipSync } = await import('node:zlib');
    const toc = rd.toc;
    const chunkEntry = toc.entries.find((e) => e.type === 'chunk' && e.name === 'bin/big' && e.chunkOffset === c.fileOffset)!;
    chunkEntry.chunkDigest = sha(Buffer.alloc(c.size));
    const json = serializeTOC(toc);
    const member = gzipSync(encodeTar([{ header: { name: 'stargz.index.json', type: 'file', mode: 0o644, uid: 0, gid: 0, size: json.length, mtime: 0 }, data: json }]));
    const tampered = Buffer.concat([r.blob.subarray(0, rd.tocOffset), member, buildFooter(rd.tocOffset)]);
    await assert.rejects(open(tampered, r.tocDigest), (e) => isCtrError(e, 'DigestMismatch'), 'old TOC digest no longer matches');
    const rd2 = await open(tampered, sha(json));
    await assert.rejects(rd2.readChunk(file(rd2, 'bin/big').chunks[1]!), (e) => isCtrError(e, 'DigestMismatch') && /bin\/big/.test((e as Error).message));
    assert.ok((await rd2.readChunk(file(rd2, 'bin/big').chunks[0]!)).length > 0, 'other chunks still read');
  });

  test('not gzip, truncated, corrupted TOC, footer outside the blob, TOC over the limit', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK, level: 1 });
    const rd = await open(r.blob);
    const expectErr = async (blob: Buffer, code: string, re: RegExp, opts = {}) =>
      assert.rejects(openEStargz(new BufferRangeReader(blob), opts), (e) => isCtrError(e) && e.code === code && re.test(e.message));
    await expectErr(Buffer.from('plain text, definitely not an eStargz blob at all, no no no'), 'InvalidArgument', /not an eStargz blob/);
    await expectErr(fixtureTar(), 'InvalidArgument', /not an eStargz blob/);
    await expectErr(r.blob.subarray(0, r.blob.length - 20), 'InvalidArgument', /not an eStargz blob/);
    const { buildFooter } = await import('../../src/estargz/footer.js');
    await expectErr(Buffer.concat([r.blob.subarray(0, r.blob.length - 51), buildFooter(r.blob.length * 2)]), 'InvalidArgument', /footer points outside the blob/);
    const truncatedToc = Buffer.concat([r.blob.subarray(0, r.blob.length - 51 - 30), buildFooter(rd.tocOffset)]);
    await expectErr(truncatedToc, 'InvalidArgument', /malformed TOC gzip member/);
    const { gzipSync } = await import('node:zlib');
    const { encodeTar } = await import('../../src/tar/writer.js');
    const badJson = Buffer.from('{"version":1,"entries":[{"name":');
    const badMember = gzipSync(encodeTar([{ header: { name: 'stargz.index.json', type: 'file', mode: 0o644, uid: 0, gid: 0, size: badJson.length, mtime: 0 }, data: badJson }]));
    const corrupt = Buffer.concat([r.blob.subarray(0, rd.tocOffset), badMember, buildFooter(rd.tocOffset)]);
    await expectErr(corrupt, 'InvalidArgument', /corrupted TOC JSON/);
    await expectErr(r.blob, 'LimitExceeded', /over the 100-byte limit/, { maxTocSize: 100 });
    const bomb = gzipSync(Buffer.alloc(5 << 20));
    await expectErr(Buffer.concat([r.blob.subarray(0, rd.tocOffset), bomb, buildFooter(rd.tocOffset)]), 'LimitExceeded', /uncompressed TOC is over/, { maxTocSize: 1 << 20 });
  });
});
