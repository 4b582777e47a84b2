// The reader against bad input: truncation anywhere, garbage, sparse files, oversized extensions; and
// bounded memory for large payloads.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { encodeHeader, encodeTar, END_OF_ARCHIVE } from '../../src/tar/writer.js';
import { parseTarBuffer, readTar } from '../../src/tar/reader.js';
import { writeChecksum } from '../../src/tar/block.js';
import { paddingFor, type TarHeader } from '../../src/tar/header.js';
import { chunked, collect, gnuTar } from './tar-fixtures.js';

const base = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 } as const;
const small = encodeTar([
  { header: { ...base, name: 'dir/', type: 'dir', mode: 0o755 } },
  { header: { ...base, name: 'dir/a', type: 'file', size: 700, mtimeNsec: 5, xattrs: new Map([['user.k', Buffer.from('v')]]) }, data: Buffer.alloc(700, 1) },
  { header: { ...base, name: `dir/${'L'.repeat(300)}`, type: 'file', size: 3 }, data: Buffer.from('xyz') },
  { header: { ...base, name: 'dir/s', type: 'symlink', linkname: 'a' } },
]);

/** Run the reader to the end; returns entries or the error. */
async function attempt(buf: Buffer, piece = 64): Promise<{ entries?: Awaited<ReturnType<typeof collect>>; error?: unknown }> {
  try {
    return { entries: await collect(chunked(buf, piece)) };
  } catch (error) {
    return { error };
  }
}

describe('tar reader on hostile input', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tar-hostile-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('truncation at every 37th byte is an InvalidArgument, never a wrong entry', async () => {
    const full = await collect(chunked(small, small.length));
    const end = small.length; // encodeTar ends right after the two zero blocks
    let errors = 0;
    for (let cut = 37; cut < end; cut += 37) {
      for (const piece of [1, 512, 4096]) {
        if (piece === 1 && cut % (37 * 5) !== 0) continue; // byte-wise feeding on a subset keeps this fast
        const r = await attempt(small.subarray(0, cut), piece);
        assert.ok(r.error, `cut at ${cut} must fail`);
        assert.ok(isCtrError(r.error, 'InvalidArgument'), `cut at ${cut}: ${String(r.error)}`);
        assert.match((r.error as Error).message, /truncated tar|not a tar archive/);
      }
      errors++;
      // the entries delivered before the error are exactly the full ones
      const seen: TarHeader[] = [];
      try {
        for await (const e of readTar(chunked(small.subarray(0, cut), 100))) {
          seen.push(e.header);
          for await (const _ of e.body());
        }
      } catch {}
      seen.forEach((h, i) => assert.deepEqual(h, full[i]?.header));
    }
    assert.ok(errors > 50);
    const m = (await attempt(small.subarray(0, full[1]!.dataOffset + 300))).error as Error;
    assert.match(m.message, /truncated tar: entry "dir\/a" wants 700 bytes, input ended after/);
  });

  test('an archive ending after a complete entry without end blocks is accepted (as Go and GNU tar do)', async () => {
    const noEnd = small.subarray(0, small.length - END_OF_ARCHIVE.length);
    assert.equal((await collect(chunked(noEnd, 33))).length, 4);
    assert.deepEqual(await collect(chunked(Buffer.alloc(0), 1)), []);
  });

  test('garbage and mutated archives end in a CtrError or a result, never a hang or another error', async () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const kinds = new Set<string>();
    for (let i = 0; i < 400; i++) {
      let buf: Buffer;
      if (i % 4 === 0) buf = Buffer.from(Array.from({ length: Math.floor(rnd() * 3000) }, () => Math.floor(rnd() * 256)));
      else {
        buf = Buffer.from(small);
        for (let k = 0; k < 1 + Math.floor(rnd() * 8); k++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
        // re-sign the headers so mutations reach the field parsers, not just the checksum check
        if (i % 2 === 0) for (let off = 0; off + 512 <= buf.length; off += 512) if (buf[off + 257] === 0x75) writeChecksum(buf.subarray(off, off + 512));
      }
      const r = await attempt(buf, 1 + Math.floor(rnd() * 700));
      if (r.error) {
        assert.ok(isCtrError(r.error), `input ${i}: non-CtrError ${String(r.error)}`);
        kinds.add((r.error as { code: string }).code);
        assert.throws(() => parseTarBuffer(buf), (e: unknown) => isCtrError(e));
      }
    }
    assert.ok(kinds.has('InvalidArgument'));
  });

  test('not a tar archive: clear messages', async () => {
    const e1 = (await attempt(Buffer.from('hello world'))).error as Error;
    assert.match(e1.message, /not a tar archive: input is only 11 bytes/);
    const e2 = (await attempt(Buffer.alloc(1024, 0x61))).error as Error;
    assert.match(e2.message, /not a tar archive: bad header checksum at offset 0/);
    const lone = Buffer.concat([Buffer.alloc(512), encodeTar([{ header: { ...base, name: 'x', type: 'file' } }])]);
    assert.match(((await attempt(lone)).error as Error).message, /lone zero block at offset 0/);
  });

  test('GNU sparse files (old gnu S and PAX GNU.sparse) are Unsupported, never silently corrupted', async () => {
    const f = join(dir, 'sparse');
    const fh = await open(f, 'w');
    await fh.write(Buffer.from('data'), 0, 4, 1 << 20);
    await fh.close();
    for (const format of ['gnu', 'pax']) {
      const out = join(dir, `sparse-${format}.tar`);
      gnuTar(['--format', format, '--sparse', '-cf', out, '-C', dir, 'sparse']);
      const r = await attempt(await readFile(out));
      assert.ok(isCtrError(r.error, 'Unsupported'), `${format}: ${String(r.error)}`);
      assert.match((r.error as Error).message, /sparse/);
    }
  });

  test('a NUL inside a PAX path is refused', async () => {
    const h: TarHeader = { ...base, name: 'placeholder-name-that-needs-pax-\u00e9', type: 'file' };
    const buf = Buffer.concat([encodeHeader(h), END_OF_ARCHIVE]);
    const at = buf.indexOf('placeholder', 512); // past the PAX header block, whose name holds it too
    buf[at] = 0; // inside the PAX record's value (the ustar copy is ASCII-only and sits in a later block)
    const r = await attempt(buf);
    assert.ok(isCtrError(r.error, 'InvalidArgument'));
    assert.match((r.error as Error).message, /PAX path contains a NUL byte/);
  });

  test('extension headers over the limit are LimitExceeded', async () => {
    const h: TarHeader = { ...base, name: 'x', type: 'file', xattrs: new Map([['user.big', Buffer.alloc(5000, 1)]]) };
    const buf = Buffer.concat([encodeHeader(h), END_OF_ARCHIVE]);
    const r = await (async () => { try { await collect(chunked(buf, 512), { maxExtensionSize: 4096 }); } catch (e) { return e; } })();
    assert.ok(isCtrError(r, 'LimitExceeded'));
    assert.equal((await collect(chunked(buf, 512)))[0]?.header.xattrs?.get('user.big')?.length, 5000);
  });

  test('PAX global records apply to every following entry; GNU long names and base-256 numbers decode', async () => {
    const g = Buffer.from('17 uname=globalu\n');
    const gh = Buffer.from(encodeHeader({ ...base, name: 'pax_global', type: 'file', size: g.length }));
    gh[156] = 0x67; // 'g'
    writeChecksum(gh);
    const one = encodeHeader({ ...base, name: 'one', type: 'file' });
    const twoHeader: TarHeader = { ...base, name: 'two', type: 'file', uname: 'local' };
    const buf = Buffer.concat([gh, g, Buffer.alloc(paddingFor(g.length)), one, encodeHeader(twoHeader), END_OF_ARCHIVE]);
    const es = await collect(chunked(buf, 7));
    assert.deepEqual(es.map((e) => [e.header.name, e.header.uname, e.headerOffset]), [['one', 'globalu', 0], ['two', 'globalu', 1536]]);
    // (a PAX global record beats the ustar field of a later header: POSIX precedence)
    const gnu = join(dir, 'gnu-long.tar');
    gnuTar(['--format=gnu', '--owner=4000000', '--group=4000001', '-cf', gnu, '--transform', `s,.*,${'g'.repeat(130)},`, '-C', dir, 'sparse']);
    const [e] = await collect(chunked(await readFile(gnu), 100));
    assert.deepEqual([e?.header.name, e?.header.uid, e?.header.gid, e?.headerOffset], ['g'.repeat(130), 4000000, 4000001, 0]);
  });

  test('payloads stream in bounded pieces without reading ahead (a 64 MiB file)', async () => {
    const size = 64 << 20;
    let produced = 0;
    async function* source(): AsyncGenerator<Buffer> {
      yield encodeHeader({ ...base, name: 'big', type: 'file', size });
      const chunk = Buffer.alloc(1 << 20, 3);
      for (let i = 0; i < size / chunk.length; i++) {
        produced += chunk.length;
        yield chunk;
      }
      yield END_OF_ARCHIVE;
    }
    let consumed = 0;
    let maxPiece = 0;
    let maxAhead = 0;
    for await (const e of readTar(source(), { maxPiece: 256 << 10 })) {
      for await (const p of e.body()) {
        consumed += p.length;
        maxPiece = Math.max(maxPiece, p.length);
        maxAhead = Math.max(maxAhead, produced - consumed);
      }
    }
    assert.equal(consumed, size);
    assert.ok(maxPiece <= 256 << 10, `piece ${maxPiece}`);
    assert.ok(maxAhead <= 1 << 20, `read ahead ${maxAhead} bytes`);
  });

  test('a body read after advancing throws; skipping unread bodies works', async () => {
    const it = readTar(chunked(small, 50));
    const first = await it.next();
    await it.next(); // skip dir/ body (empty) → now at dir/a
    await assert.rejects(async () => { for await (const _ of first.value!.body()); }, /body read after moving/);
    const names: string[] = [];
    for await (const e of readTar(chunked(small, 50))) names.push(e.header.name); // never touches bodies
    assert.equal(names.length, 4);
  });
});
