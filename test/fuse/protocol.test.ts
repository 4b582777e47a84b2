// Pure protocol tests: hand-built request buffers through FuseProtocol, no kernel involved.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ATTR_OUT_SIZE, DIRENT_HEADER_SIZE, ENTRY_OUT_SIZE, INIT_OUT_SIZE, InitFlag, OUT_HEADER_SIZE, Opcode, OpenFlag,
  decodeInitOut, decodeOutHeader, direntplusSize, encodeInHeader, encodeReadIn, readAttr, readU64,
} from '../../src/fuse/abi.js';
import { CtrError } from '../../src/errors.js';
import { Errno, FuseErrno, errnoOf } from '../../src/fuse/errno.js';
import { FuseProtocol } from '../../src/fuse/protocol.js';
import { MemoryFs, patternSlice } from './memory-fs.js';

let unique = 100;

/** Build a request: header + body. */
function request(opcode: number, nodeid: number, body: Buffer = Buffer.alloc(0), id = (unique += 2)): Buffer {
  const h = encodeInHeader({ len: 40 + body.length, opcode, unique: id, nodeid, uid: 1000, gid: 1000, pid: 42 });
  return Buffer.concat([h, body]);
}

function initBody(minor = 45, flags = 0x7fffffff): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(7, 0);
  b.writeUInt32LE(minor, 4);
  b.writeUInt32LE(128 * 1024, 8);
  b.writeUInt32LE(flags >>> 0, 12);
  return b;
}

const name = (s: string) => Buffer.from(`${s}\0`);
const u32pair = (a: number, b = 0) => { const x = Buffer.alloc(8); x.writeUInt32LE(a, 0); x.writeUInt32LE(b, 4); return x; };

async function call(p: FuseProtocol, req: Buffer) {
  const out = await p.handle(req);
  assert.ok(out, 'expected a reply');
  const h = decodeOutHeader(out);
  assert.equal(h.len, out.length, 'out header length matches the reply');
  assert.equal(h.unique, req.readUInt32LE(8), 'reply carries the request id');
  return { error: h.error, body: out.subarray(OUT_HEADER_SIZE) };
}

function sampleFs(): MemoryFs {
  return new MemoryFs()
    .mkdir('dir')
    .file('dir/hello.txt', 'hello world\n', { uid: 7, gid: 8, mode: 0o640, mtime: 1234 })
    .patternFile('big', 3 << 20)
    .symlink('link', 'dir/hello.txt')
    .xattr('dir', 'trusted.overlay.opaque', 'y')
    .xattr('dir', 'user.long', 'x'.repeat(100));
}

async function ready(fs = sampleFs(), options = {}) {
  const p = new FuseProtocol(fs, { onError: () => {}, ...options });
  const r = await call(p, request(Opcode.INIT, 0, initBody()));
  assert.equal(r.error, 0);
  return { p, fs, init: r.body };
}

describe('FUSE protocol handler', () => {
  test('INIT negotiates version, 1 MiB reads and the flags we want', async () => {
    const { init } = await ready();
    assert.equal(init.length, INIT_OUT_SIZE);
    const o = decodeInitOut(init);
    assert.equal(o.major, 7);
    assert.equal(o.minor, 38, 'min(kernel 45, ours 38)');
    assert.equal(o.maxPages, 256);
    for (const f of [InitFlag.ASYNC_READ, InitFlag.DO_READDIRPLUS, InitFlag.PARALLEL_DIROPS, InitFlag.MAX_PAGES]) {
      assert.ok((o.flags & f) !== 0, `flag ${f} set`);
    }
    // every READDIR a READDIRPLUS: with READDIRPLUS_AUTO the kernel lists a directory's later pages without
    // attributes and then looks each of their entries up (555 LOOKUPs in a walk of a Debian root filesystem)
    assert.equal(o.flags & InitFlag.READDIRPLUS_AUTO, 0);
    assert.equal(o.maxReadahead, 128 * 1024);
  });

  test("readdirplus 'auto' leaves the choice to the kernel, 'never' lists without attributes", async () => {
    for (const [mode, plus, auto] of [['auto', true, true], ['never', false, false]] as const) {
      const p = new FuseProtocol(sampleFs(), { readdirplus: mode });
      const o = decodeInitOut((await call(p, request(Opcode.INIT, 0, initBody()))).body);
      assert.equal((o.flags & InitFlag.DO_READDIRPLUS) !== 0, plus, `${mode}: DO_READDIRPLUS`);
      assert.equal((o.flags & InitFlag.READDIRPLUS_AUTO) !== 0, auto, `${mode}: READDIRPLUS_AUTO`);
    }
  });

  test('INIT only grants flags the kernel offered, and an older minor is echoed', async () => {
    const p = new FuseProtocol(sampleFs());
    const r = await call(p, request(Opcode.INIT, 0, initBody(31, InitFlag.ASYNC_READ | InitFlag.MAX_PAGES)));
    const o = decodeInitOut(r.body);
    assert.equal(o.minor, 31);
    assert.equal(o.flags, InitFlag.ASYNC_READ | InitFlag.MAX_PAGES);
  });

  test('requests before INIT fail with EIO', async () => {
    const p = new FuseProtocol(sampleFs(), { onError: () => {} });
    assert.equal((await call(p, request(Opcode.GETATTR, 1, Buffer.alloc(16)))).error, -Errno.EIO);
  });

  test('LOOKUP returns an entry_out with attributes and timeouts; a missing name is ENOENT', async () => {
    const { p } = await ready();
    const dir = await call(p, request(Opcode.LOOKUP, 1, name('dir')));
    assert.equal(dir.error, 0);
    assert.equal(dir.body.length, ENTRY_OUT_SIZE);
    const dirIno = readU64(dir.body, 0);
    const r = await call(p, request(Opcode.LOOKUP, dirIno, name('hello.txt')));
    assert.equal(r.error, 0);
    assert.equal(readU64(r.body, 16), 1, 'entry_valid 1 s');
    const a = readAttr(r.body, 40);
    assert.equal(a.size, 12);
    assert.equal(a.mode, 0o100640);
    assert.equal(a.uid, 7);
    assert.equal(a.gid, 8);
    assert.equal(a.mtime.sec, 1234);
    assert.equal(a.blocks, 1);
    assert.equal((await call(p, request(Opcode.LOOKUP, 1, name('nope')))).error, -Errno.ENOENT);
  });

  test('LOOKUP of a missing name gives a cached negative entry when negativeTimeoutMs is set', async () => {
    const { p } = await ready(sampleFs(), { negativeTimeoutMs: 2500 });
    const r = await call(p, request(Opcode.LOOKUP, 1, name('nope')));
    assert.equal(r.error, 0);
    assert.equal(readU64(r.body, 0), 0, 'node id 0');
    assert.equal(readU64(r.body, 16), 2);
    assert.equal(r.body.readUInt32LE(32), 500_000_000);
  });

  test('GETATTR returns attr_out', async () => {
    const { p } = await ready();
    const r = await call(p, request(Opcode.GETATTR, 1, Buffer.alloc(16)));
    assert.equal(r.error, 0);
    assert.equal(r.body.length, ATTR_OUT_SIZE);
    assert.equal(readAttr(r.body, 16).mode, 0o040755);
    assert.equal(readAttr(r.body, 16).ino, 1);
  });

  test('READLINK returns the target bytes', async () => {
    const { p } = await ready();
    const ino = readU64((await call(p, request(Opcode.LOOKUP, 1, name('link')))).body, 0);
    const r = await call(p, request(Opcode.READLINK, ino));
    assert.equal(r.body.toString(), 'dir/hello.txt');
  });

  test('OPEN keeps the cache, refuses write access with EROFS; READ returns exact bytes at odd offsets', async () => {
    const { p } = await ready();
    const ino = readU64((await call(p, request(Opcode.LOOKUP, 1, name('big')))).body, 0);
    const o = await call(p, request(Opcode.OPEN, ino, u32pair(0)));
    assert.equal(o.error, 0);
    assert.ok((o.body.readUInt32LE(8) & OpenFlag.KEEP_CACHE) !== 0);
    assert.equal((await call(p, request(Opcode.OPEN, ino, u32pair(2)))).error, -Errno.EROFS);
    const r = await call(p, request(Opcode.READ, ino, encodeReadIn({ fh: 0, offset: 65_537, size: 1 << 20, flags: 0 })));
    assert.equal(r.error, 0);
    assert.ok(r.body.equals(patternSlice(65_537, 1 << 20)));
    const tail = await call(p, request(Opcode.READ, ino, encodeReadIn({ fh: 0, offset: (3 << 20) - 10, size: 4096, flags: 0 })));
    assert.equal(tail.body.length, 10, 'short read at EOF');
    const tooBig = await call(p, request(Opcode.READ, ino, encodeReadIn({ fh: 0, offset: 0, size: (1 << 20) + 4096, flags: 0 })));
    assert.equal(tooBig.error, -Errno.EINVAL);
  });

  test('noOpen: OPEN answers ENOSYS only when the kernel offered NO_OPEN_SUPPORT, write access still EROFS', async () => {
    const { p, init } = await ready(sampleFs(), { noOpen: true });
    assert.ok((init.readUInt32LE(12) & InitFlag.NO_OPEN_SUPPORT) !== 0, 'NO_OPEN_SUPPORT granted');
    const ino = readU64((await call(p, request(Opcode.LOOKUP, 1, name('big')))).body, 0);
    assert.equal((await call(p, request(Opcode.OPEN, ino, u32pair(0)))).error, -Errno.ENOSYS);
    assert.equal((await call(p, request(Opcode.OPEN, ino, u32pair(2)))).error, -Errno.EROFS);
    const old = new FuseProtocol(sampleFs(), { onError: () => {}, noOpen: true });
    await call(old, request(Opcode.INIT, 0, initBody(45, InitFlag.ASYNC_READ)));
    const ino2 = readU64((await call(old, request(Opcode.LOOKUP, 1, name('big')))).body, 0);
    assert.equal((await call(old, request(Opcode.OPEN, ino2, u32pair(0)))).error, 0, 'a kernel without it gets a real open');
    const { p: plain } = await ready();
    assert.equal((await call(plain, request(Opcode.OPEN, ino, u32pair(0)))).error, 0, 'off by default');
  });

  test('noOpen: OPENDIR answers ENOSYS, READDIR with fh 0 lists the inode through a shared handle', async () => {
    const { p, init } = await ready(sampleFs(), { noOpen: true });
    assert.ok((init.readUInt32LE(12) & InitFlag.NO_OPENDIR_SUPPORT) !== 0, 'NO_OPENDIR_SUPPORT granted');
    assert.equal((await call(p, request(Opcode.OPENDIR, 1, u32pair(0)))).error, -Errno.ENOSYS);
    const listed = async (offset: number) => {
      const r = await call(p, request(Opcode.READDIR, 1, encodeReadIn({ fh: 0, offset, size: 4096, flags: 0 })));
      assert.equal(r.error, 0);
      const names: string[] = [];
      for (let off = 0; off < r.body.length; off += (DIRENT_HEADER_SIZE + r.body.readUInt32LE(off + 16) + 7) & ~7) {
        names.push(r.body.toString('utf8', off + DIRENT_HEADER_SIZE, off + DIRENT_HEADER_SIZE + r.body.readUInt32LE(off + 16)));
      }
      return names;
    };
    assert.deepEqual(await listed(0), ['.', '..', 'dir', 'big', 'link']);
    assert.deepEqual(await listed(3), ['big', 'link'], 'resumes at an offset');
    const { p: plain } = await ready();
    const fh0 = await call(plain, request(Opcode.READDIR, 1, encodeReadIn({ fh: 0, offset: 0, size: 4096, flags: 0 })));
    assert.equal(fh0.error, -Errno.EBADF, 'without noOpen fh 0 is no handle');
  });

  test('READDIR lists ".", ".." and children in 8-byte aligned dirents and resumes at an offset', async () => {
    const { p } = await ready();
    const fh = readU64((await call(p, request(Opcode.OPENDIR, 1, u32pair(0)))).body, 0);
    const all = await call(p, request(Opcode.READDIR, 1, encodeReadIn({ fh, offset: 0, size: 4096, flags: 0 })));
    const names: string[] = [];
    const offs: number[] = [];
    for (let off = 0; off < all.body.length;) {
      const len = all.body.readUInt32LE(off + 16);
      names.push(all.body.toString('utf8', off + DIRENT_HEADER_SIZE, off + DIRENT_HEADER_SIZE + len));
      offs.push(readU64(all.body, off + 8));
      off += (DIRENT_HEADER_SIZE + len + 7) & ~7;
      assert.equal(off % 8, 0);
    }
    assert.deepEqual(names, ['.', '..', 'dir', 'big', 'link']);
    assert.deepEqual(offs, [1, 2, 3, 4, 5]);
    const rest = await call(p, request(Opcode.READDIR, 1, encodeReadIn({ fh, offset: 3, size: 4096, flags: 0 })));
    assert.equal(rest.body.toString('utf8', DIRENT_HEADER_SIZE, DIRENT_HEADER_SIZE + 3), 'big');
    const tiny = await call(p, request(Opcode.READDIR, 1, encodeReadIn({ fh, offset: 0, size: 60, flags: 0 })));
    assert.equal(tiny.body.length, 32, 'only whole records: "." (32 bytes) fits in 60, ".." would not');
    assert.equal((await call(p, request(Opcode.RELEASEDIR, 1, Buffer.alloc(24)))).error, 0);
  });

  test('READDIRPLUS carries entry_out + dirent records, aligned, dots without node ids', async () => {
    const { p } = await ready();
    const fh = readU64((await call(p, request(Opcode.OPENDIR, 1, u32pair(0)))).body, 0);
    const r = await call(p, request(Opcode.READDIRPLUS, 1, encodeReadIn({ fh, offset: 0, size: 4096, flags: 0 })));
    const seen: { name: string; nodeid: number; size: number }[] = [];
    for (let off = 0; off < r.body.length;) {
      const len = r.body.readUInt32LE(off + ENTRY_OUT_SIZE + 16);
      const n = r.body.toString('utf8', off + ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE, off + ENTRY_OUT_SIZE + DIRENT_HEADER_SIZE + len);
      seen.push({ name: n, nodeid: readU64(r.body, off), size: readAttr(r.body, off + 40).size });
      off += direntplusSize(len);
    }
    assert.equal(r.body.length, seen.reduce((s, e) => s + direntplusSize(Buffer.byteLength(e.name)), 0));
    assert.deepEqual(seen.map((e) => e.name), ['.', '..', 'dir', 'big', 'link']);
    assert.equal(seen[0]!.nodeid, 0);
    assert.equal(seen[1]!.nodeid, 0);
    assert.ok(seen[2]!.nodeid > 1);
    assert.equal(seen[3]!.size, 3 << 20);
  });

  test('GETXATTR: size-0 probe gives the size, too small is ERANGE, missing is ENODATA; LISTXATTR likewise', async () => {
    const { p } = await ready();
    const dir = readU64((await call(p, request(Opcode.LOOKUP, 1, name('dir')))).body, 0);
    const xreq = (size: number, n: string) => request(Opcode.GETXATTR, dir, Buffer.concat([u32pair(size), name(n)]));
    const probe = await call(p, xreq(0, 'user.long'));
    assert.equal(probe.error, 0);
    assert.equal(probe.body.length, 8);
    assert.equal(probe.body.readUInt32LE(0), 100);
    assert.equal((await call(p, xreq(99, 'user.long'))).error, -Errno.ERANGE);
    assert.equal((await call(p, xreq(100, 'user.long'))).body.toString(), 'x'.repeat(100));
    assert.equal((await call(p, xreq(10, 'trusted.overlay.opaque'))).body.toString(), 'y');
    assert.equal((await call(p, xreq(10, 'user.none'))).error, -Errno.ENODATA);
    const list = await call(p, request(Opcode.LISTXATTR, dir, u32pair(0)));
    const expected = 'trusted.overlay.opaque\0user.long\0';
    assert.equal(list.body.readUInt32LE(0), expected.length);
    assert.equal((await call(p, request(Opcode.LISTXATTR, dir, u32pair(5)))).error, -Errno.ERANGE);
    assert.equal((await call(p, request(Opcode.LISTXATTR, dir, u32pair(4096)))).body.toString(), expected);
  });

  test('FuseErrno is an answer, not a failure: its errno and message, no stack frames, the stack limit left as it was', () => {
    const limit = Error.stackTraceLimit;
    const e = new FuseErrno(Errno.ENODATA);
    assert.ok(e instanceof Error);
    assert.equal(e.errno, Errno.ENODATA);
    assert.equal(e.message, `errno ${Errno.ENODATA}`);
    assert.equal(new FuseErrno(Errno.EIO, 'why').message, 'why');
    assert.doesNotMatch(e.stack ?? '', /\n\s+at /, 'no frames captured');
    assert.equal(Error.stackTraceLimit, limit);
    assert.match(new Error('x').stack ?? '', /\n\s+at /, 'other errors keep their frames');
    assert.deepEqual(errnoOf(e), { errno: Errno.ENODATA, expected: true });
  });

  test('unknown opcodes are ENOSYS; write opcodes are EROFS', async () => {
    const { p } = await ready();
    assert.equal((await call(p, request(9999, 1))).error, -Errno.ENOSYS);
    assert.equal((await call(p, request(Opcode.IOCTL, 1, Buffer.alloc(32)))).error, -Errno.ENOSYS);
    assert.equal((await call(p, request(Opcode.MKDIR, 1, Buffer.concat([u32pair(0o755), name('x')])))).error, -Errno.EROFS);
    assert.equal((await call(p, request(Opcode.WRITE, 1, Buffer.alloc(40)))).error, -Errno.EROFS);
  });

  test('a handler that throws a plain exception gives EIO and is reported; the next request is served', async () => {
    const fs = sampleFs();
    const reported: string[] = [];
    const { p } = await ready(fs, { onError: (_e: unknown, op: string) => reported.push(op) });
    const ino = readU64((await call(p, request(Opcode.LOOKUP, 1, name('big')))).body, 0);
    fs.onRead = () => { throw new TypeError('boom'); };
    const read = () => call(p, request(Opcode.READ, ino, encodeReadIn({ fh: 0, offset: 0, size: 10, flags: 0 })));
    assert.equal((await read()).error, -Errno.EIO);
    assert.deepEqual(reported, ['READ']);
    fs.onRead = () => { throw new CtrError('NotFound', 'chunk gone'); };
    assert.equal((await read()).error, -Errno.ENOENT, 'CtrError codes are mapped, not reported');
    fs.onRead = () => { throw new FuseErrno(Errno.EACCES); };
    assert.equal((await read()).error, -Errno.EACCES);
    assert.equal(reported.length, 1);
    fs.onRead = undefined;
    assert.ok((await read()).body.equals(patternSlice(0, 10)));
  });

  test('FORGET and BATCH_FORGET get no reply and reach the filesystem', async () => {
    const fs = sampleFs();
    const forgotten: [number, number][] = [];
    fs.forget = (ino, n) => void forgotten.push([ino, n]);
    const { p } = await ready(fs);
    const f = Buffer.alloc(8);
    f.writeUInt32LE(3, 0);
    assert.equal(await p.handle(request(Opcode.FORGET, 5, f)), null);
    const batch = Buffer.alloc(8 + 32);
    batch.writeUInt32LE(2, 0);
    batch.writeUInt32LE(6, 8); batch.writeUInt32LE(1, 16);
    batch.writeUInt32LE(7, 24); batch.writeUInt32LE(2, 32);
    assert.equal(await p.handle(request(Opcode.BATCH_FORGET, 0, batch)), null);
    assert.deepEqual(forgotten, [[5, 3], [6, 1], [7, 2]]);
  });

  test('INTERRUPT aborts the in-flight request (EINTR) and sends no reply; an unknown target is EAGAIN', async () => {
    const fs = sampleFs();
    const { p } = await ready(fs);
    const ino = readU64((await call(p, request(Opcode.LOOKUP, 1, name('big')))).body, 0);
    fs.read = (_i, _f, _o, _s, ctx) => new Promise((_, reject) => {
      ctx.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
    });
    const id = (unique += 2);
    const pending = call(p, request(Opcode.READ, ino, encodeReadIn({ fh: 0, offset: 0, size: 10, flags: 0 }), id));
    assert.equal(p.inflightCount, 1);
    const target = Buffer.alloc(8);
    target.writeUInt32LE(id, 0);
    assert.equal(await p.handle(request(Opcode.INTERRUPT, 0, target, id | 1)), null);
    assert.equal((await pending).error, -Errno.EINTR);
    assert.equal((await call(p, request(Opcode.INTERRUPT, 0, target, id | 1))).error, -Errno.EAGAIN);
  });

  test('an INTERRUPT that comes before the handler asks for its signal: the signal it gets is already aborted', async () => {
    const fs = sampleFs();
    const { p } = await ready(fs);
    const ino = readU64((await call(p, request(Opcode.LOOKUP, 1, name('big')))).body, 0);
    let go: () => void = () => undefined;
    const interrupted = new Promise<void>((resolve) => (go = resolve));
    let seen: boolean | undefined;
    fs.read = async (_i, _f, _o, _s, ctx) => {
      await interrupted; // the signal is made only now, after the INTERRUPT
      seen = ctx.signal.aborted;
      throw Object.assign(new Error('aborted'), { name: 'AbortError' });
    };
    const id = (unique += 2);
    const pending = call(p, request(Opcode.READ, ino, encodeReadIn({ fh: 0, offset: 0, size: 10, flags: 0 }), id));
    const target = Buffer.alloc(8);
    target.writeUInt32LE(id, 0);
    assert.equal(await p.handle(request(Opcode.INTERRUPT, 0, target, id | 1)), null);
    go();
    assert.equal((await pending).error, -Errno.EINTR);
    assert.equal(seen, true);
  });

  test('STATFS defaults and ACCESS answer 0, FLUSH ENOSYS (the kernel stops sending it), DESTROY marks the protocol', async () => {
    const { p } = await ready();
    const s = await call(p, request(Opcode.STATFS, 1));
    assert.equal(s.body.length, 80);
    assert.equal(s.body.readUInt32LE(44), 255);
    assert.equal((await call(p, request(Opcode.FLUSH, 1, Buffer.alloc(24)))).error, -Errno.ENOSYS);
    assert.equal((await call(p, request(Opcode.ACCESS, 1, u32pair(4)))).error, 0);
    assert.equal((await call(p, request(Opcode.ACCESS, 1, u32pair(2)))).error, -Errno.EROFS);
    assert.equal((await call(p, request(Opcode.DESTROY, 0))).error, 0);
    assert.equal(p.destroyed, true);
  });

  test('hostile input: random bodies for every opcode never reject and always give a well-formed reply or none', async () => {
    const { p } = await ready();
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) >>> 0) % n);
    for (let i = 0; i < 3000; i++) {
      const body = Buffer.alloc(rand(200));
      for (let j = 0; j < body.length; j++) body[j] = rand(256);
      const op = rand(60);
      const id = (unique += 2);
      const req = request(op === Opcode.INIT ? Opcode.GETATTR : op, 1 + rand(20), body, id);
      if (rand(4) === 0) req.writeUInt32LE(rand(400), 0); // lie about the length
      const out = await p.handle(req);
      if (out === null) continue;
      const h = decodeOutHeader(out);
      assert.equal(h.len, out.length);
      assert.equal(h.unique, id);
      assert.ok(h.error <= 0 && h.error > -4096);
    }
  });

  test('a truncated body is EIO, never a crash', async () => {
    const { p } = await ready();
    assert.equal((await call(p, request(Opcode.READ, 1, Buffer.alloc(4)))).error, -Errno.EIO);
    assert.equal(await p.handle(Buffer.alloc(10)), null, 'shorter than a header: nothing to answer');
  });
});
