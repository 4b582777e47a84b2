// Go's archive/tar (what the reference builds on) as the oracle: it reads our archives with the headers we
// meant, and our reader reads its archives (PAX, GNU, ustar features) as it does.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeTar } from '../../src/tar/writer.js';
import { parseTarBuffer } from '../../src/tar/reader.js';
import type { TarEntryType, TarHeader } from '../../src/tar/header.js';

interface GoEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sec: number;
  nsec: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  xattrs: Record<string, string>;
  sha256: string;
}

const TYPES: Record<string, TarEntryType> = { '0': 'file', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** Go's view of an entry in TarHeader terms (paxExtra is not compared). */
function fromGo(g: GoEntry): { header: TarHeader; sha256: string } {
  const type = TYPES[g.type];
  assert.ok(type, `Go type ${g.type}`);
  const h: TarHeader = { name: g.name, type, mode: g.mode, uid: g.uid, gid: g.gid, size: type === 'file' ? g.size : 0, mtime: g.sec };
  if (g.nsec) h.mtimeNsec = g.nsec;
  if (g.linkname) h.linkname = g.linkname;
  if (g.uname) h.uname = g.uname;
  if (g.gname) h.gname = g.gname;
  if (type === 'char' || type === 'block') Object.assign(h, { devmajor: g.devmajor, devminor: g.devminor });
  const x = Object.entries(g.xattrs);
  if (x.length > 0) h.xattrs = new Map(x.map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  return { header: h, sha256: g.sha256 };
}

const ours = (buf: Buffer) =>
  parseTarBuffer(buf).map(({ header, data }) => {
    const { paxExtra: _, ...h } = header;
    if (h.xattrs) h.xattrs = new Map([...h.xattrs].sort(([a], [b]) => (a < b ? -1 : 1)));
    return { header: h, sha256: createHash('sha256').update(data).digest('hex') };
  });

describe("Go's archive/tar", () => {
  let dir: string;
  let bin: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'go-tar-'));
    bin = join(dir, 'go-tar');
    execFileSync('go', ['build', '-o', bin, join(import.meta.dirname, 'go-tar', 'main.go')], { env: { ...process.env, GO111MODULE: 'off', GOFLAGS: '' }, cwd: dir });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const goDump = (buf: Buffer) =>
    execFileSync(bin, ['dump'], { input: buf, encoding: 'utf8' }).trimEnd().split('\n').map((l) => fromGo(JSON.parse(l) as GoEntry));

  test('reads our archives with the headers we wrote', () => {
    const b = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 } as const;
    const entries: { header: TarHeader; data?: Buffer }[] = [
      { header: { ...b, name: 'd/', type: 'dir', mode: 0o755 } },
      { header: { ...b, name: 'd/f', type: 'file', size: 2, uid: 300000, gid: 3000000, uname: 'üser', gname: 'g', mtimeNsec: 1 }, data: Buffer.from('hi') },
      { header: { ...b, name: `d/${'a'.repeat(200)}/${'b'.repeat(200)}`, type: 'file', size: 1 }, data: Buffer.from('x') },
      { header: { ...b, name: `d/${'s'.repeat(150)}/${'n'.repeat(90)}`, type: 'symlink', linkname: 'l'.repeat(300) } },
      { header: { ...b, name: 'd/x', type: 'file', xattrs: new Map([['security.capability', Buffer.from([1, 0, 0, 2])], ['user.k', Buffer.from('v\0\n=')]]) } },
      { header: { ...b, name: 'd/h', type: 'hardlink', linkname: 'd/f' } },
      { header: { ...b, name: 'd/c', type: 'char', devmajor: 1, devminor: 3 } },
      { header: { ...b, name: 'd/p', type: 'fifo', mtime: -100, mtimeNsec: 250_000_000 } },
    ];
    const buf = encodeTar(entries);
    assert.deepEqual(goDump(buf), ours(buf));
    assert.deepEqual(goDump(buf).map((e) => e.header), entries.map((e) => e.header));
  });

  test('our reader reads archives Go wrote (PAX, GNU base-256 and long names, ustar) as Go does', () => {
    const buf = execFileSync(bin, ['write'], { maxBuffer: 1 << 24 });
    const go = goDump(buf);
    assert.equal(go.length, 13);
    assert.deepEqual(ours(buf), go);
  });
});
