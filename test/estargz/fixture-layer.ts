// A tar layer exercising every entry kind and header feature the eStargz writer must carry into the TOC.
import { createHash } from 'node:crypto';
import type { TarHeader } from '../../src/tar/header.js';
import { encodeTar } from '../../src/tar/writer.js';

/** Deterministic pseudo-random (incompressible) bytes. */
export function noise(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let block = Buffer.alloc(0);
  for (let i = 0, ctr = 0; i < n; i += 32, ctr++) {
    block = createHash('sha256').update(`${seed}:${ctr}`).digest();
    block.copy(out, i);
  }
  return out;
}

const h = (name: string, type: TarHeader['type'], extra: Partial<TarHeader> = {}): TarHeader => ({
  name, type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: 1600000000, ...extra,
});

/** Chunk size the fixture is designed around. */
export const FIXTURE_CHUNK = 64 * 1024;

/** The fixture entries, with payloads. */
export function fixtureEntries(): { header: TarHeader; data?: Buffer }[] {
  const file = (name: string, data: Buffer, extra: Partial<TarHeader> = {}) => ({ header: h(name, 'file', { size: data.length, ...extra }), data });
  const longName = `deep/${'d'.repeat(120)}/${'f'.repeat(150)}.txt`;
  return [
    { header: h('./', 'dir') },
    { header: h('etc/', 'dir', { mtime: 1600000000, mtimeNsec: 600_000_000 }) },
    file('etc/hosts', Buffer.from('127.0.0.1 localhost\n'), { uid: 300000, gid: 300001, uname: 'big', gname: 'biggrp' }),
    file('etc/empty', Buffer.alloc(0)),
    file('etc/xattr', Buffer.from('x'), { xattrs: new Map([['user.bin', Buffer.from([0, 255, 10, 0x80])], ['security.capability', Buffer.from('cap')]]) }),
    { header: h('bin/', 'dir') },
    file('bin/exact', noise(FIXTURE_CHUNK, 1), { mode: 0o755 }),
    file('bin/plus1', noise(FIXTURE_CHUNK + 1, 2)),
    file('bin/big', Buffer.concat([noise(FIXTURE_CHUNK * 2, 3), Buffer.alloc(FIXTURE_CHUNK + 1234, 0x61)])),
    { header: h('bin/sh', 'symlink', { linkname: 'busybox' }) },
    { header: h('bin/hard', 'hardlink', { linkname: 'bin/exact' }) },
    { header: h('dev/', 'dir') },
    { header: h('dev/null', 'char', { devmajor: 1, devminor: 3, mode: 0o666 }) },
    { header: h('dev/sda', 'block', { devmajor: 8, devminor: 0 }) },
    { header: h('dev/fifo', 'fifo') },
    file('orphan/child/file', Buffer.from('parent dirs have no entries')),
    file(longName, Buffer.from('long')),
    file('café/ü <&> "q".txt', Buffer.from('non-ascii')),
    file('.no.prefetch.landmark', Buffer.from([0x0f])),
    file('stargz.index.json', Buffer.from('{}')),
    file('dup', Buffer.from('first')),
    file('setuid', Buffer.from('s'), { mode: 0o4755 }),
    file('dup', Buffer.from('second wins')),
  ];
}

/** The fixture as a tar archive. */
export function fixtureTar(): Buffer {
  return encodeTar(fixtureEntries());
}

/** Expected content of every regular file in the converted layer (last duplicate wins, landmarks and TOC dropped). */
export function fixtureFiles(): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const e of fixtureEntries()) {
    if (e.header.type !== 'file') continue;
    const name = e.header.name.replace(/^\.\//, '');
    if (name === '.no.prefetch.landmark' || name === 'stargz.index.json') continue;
    m.set(name, e.data ?? Buffer.alloc(0));
  }
  return m;
}
