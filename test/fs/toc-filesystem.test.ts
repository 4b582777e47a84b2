import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TocIndex } from '../../src/estargz/toc-index.js';
import type { TocFile } from '../../src/estargz/toc-node.js';
import type { TOCEntry } from '../../src/estargz/toc-types.js';
import type { ChunkSource } from '../../src/estargz/chunk-source.js';
import { buildInodeTable } from '../../src/fs/inode-table.js';
import { TocFileSystem } from '../../src/fs/toc-filesystem.js';
import { CtrError } from '../../src/errors.js';
import { Errno, FuseErrno } from '../../src/fuse/errno.js';
import type { RequestContext } from '../../src/fuse/raw-filesystem.js';

const ctx: RequestContext = { uid: 0, gid: 0, pid: 1, signal: new AbortController().signal };

const contents = new Map<string, Buffer>([
  ['a/hello', Buffer.from('hello world')],
  ['z', Buffer.from('zz')],
]);

/** A ChunkSource serving whole files from memory and logging what it was asked. */
class MemorySource implements ChunkSource {
  readonly calls: string[] = [];
  async readFileRange(file: TocFile, offset: number, length: number): Promise<Buffer> {
    this.calls.push(`${file.path}@${offset}+${length}`);
    return (contents.get(file.path) ?? Buffer.alloc(0)).subarray(offset, offset + length);
  }
}

const entries: TOCEntry[] = [
  { name: 'a/hello', type: 'reg', size: 11, mode: 0o644 },
  { name: 'a/hard', type: 'hardlink', linkName: 'a/hello' },
  { name: 'z', type: 'reg', size: 2, mode: 0o600, xattrs: { 'user.x': Buffer.from('1').toString('base64') } },
  { name: 'b', type: 'symlink', linkName: 'a/hello' },
  { name: 'a/.wh.gone', type: 'reg', size: 0 },
];

function errno(e: unknown): number {
  assert.ok(e instanceof FuseErrno, `not a FuseErrno: ${String(e)}`);
  return e.errno;
}

describe('TocFileSystem', () => {
  const table = buildInodeTable(TocIndex.build(entries, 1 << 20));
  const source = new MemorySource();
  const accessed: string[] = [];
  const fs = new TocFileSystem(table, source, { onAccess: (p) => accessed.push(p), cacheTimeoutMs: 5000 });
  const ino = (p: string) => table.ino(table.lookupPath(p)!);

  test('lookup returns attributes with timeouts; missing names and non-dirs fail with errno', async () => {
    const e = await fs.lookup(ino(''), 'z', ctx);
    assert.equal(e.attr.ino, ino('z'));
    assert.equal(e.attr.mode, 0o100600);
    assert.equal(e.attr.size, 2);
    assert.equal(e.entryTimeoutMs, 5000);
    assert.equal(errno(await fs.lookup(ino(''), 'nope', ctx).catch((x) => x)), Errno.ENOENT);
    assert.equal(errno(await fs.lookup(ino('z'), 'x', ctx).catch((x) => x)), Errno.ENOTDIR);
    assert.equal(errno(await fs.getattr(9999, ctx).catch((x) => x)), Errno.ENOENT);
  });

  test('readdir is sorted, carries full entries, shows whiteouts as char devices', async () => {
    const list = await fs.readdir(ino('a'), 0, ctx);
    assert.deepEqual(list.map((d) => d.name), ['gone', 'hard', 'hello']);
    assert.equal(list[0]!.mode, 0o020000);
    assert.equal(list[1]!.ino, list[2]!.ino);
    assert.equal(list[2]!.entry?.attr.nlink, 2);
    const root = await fs.readdir(ino(''), 0, ctx);
    assert.deepEqual(root.map((d) => d.name), ['a', 'b', 'z']);
  });

  test('read goes to the chunk source with the payload entry, hardlinks included', async () => {
    const data = await fs.read(ino('a/hard'), 0, 6, 100, ctx);
    assert.equal(Buffer.from(data).toString(), 'world');
    assert.deepEqual(source.calls, ['a/hello@6+100']);
    assert.equal(errno(await fs.read(ino('a'), 0, 0, 1, ctx).catch((x) => x)), Errno.EISDIR);
    assert.equal(errno(await fs.read(ino('b'), 0, 0, 1, ctx).catch((x) => x)), Errno.EINVAL);
  });

  test('a read the source cannot serve verified is EIO whatever the cause (EINTR when interrupted); a bug is left to the protocol', async () => {
    const failing = (error: unknown): ChunkSource => ({ readFileRange: async () => Promise.reject(error) });
    const causes = [
      new CtrError('Unsupported', 'the TOC carries no chunkDigest'),
      new CtrError('DigestMismatch', 'content does not match'),
      new CtrError('InvalidArgument', "the TOC's chunks cover 3 of 6 bytes"),
      new CtrError('Unavailable', 'registry answered 503'),
      new CtrError('LimitExceeded', 'chunk over the limit'),
    ];
    for (const cause of causes) {
      const got = await new TocFileSystem(table, failing(cause)).read(ino('z'), 0, 0, 2, ctx).catch((x) => x);
      assert.equal(errno(got), Errno.EIO, cause.code);
    }
    const aborted = await new TocFileSystem(table, failing(new CtrError('Aborted', 'interrupted'))).read(ino('z'), 0, 0, 2, ctx).catch((x) => x);
    assert.equal(errno(aborted), Errno.EINTR);
    const bug = new RangeError('Array buffer allocation failed');
    assert.equal(await new TocFileSystem(table, failing(bug)).read(ino('z'), 0, 0, 2, ctx).catch((x) => x), bug);
  });

  test('readlink, xattrs, statfs, access', async () => {
    assert.equal(await fs.readlink(ino('b'), ctx), 'a/hello');
    assert.equal(errno(await fs.readlink(ino('z'), ctx).catch((x) => x)), Errno.EINVAL);
    assert.deepEqual(await fs.listxattr(ino('z'), ctx), ['user.x']);
    assert.equal(Buffer.from(await fs.getxattr(ino('z'), 'user.x', ctx)).toString(), '1');
    assert.equal(errno(await fs.getxattr(ino('z'), 'user.y', ctx).catch((x) => x)), Errno.ENODATA);
    const st = await fs.statfs(ino(''), ctx);
    assert.equal(st.files, table.size);
    assert.equal(st.blocks, 1);
    await fs.access(ino('z'), 4, ctx);
    assert.equal(errno(await fs.access(ino('z'), 2, ctx).catch((x) => x)), Errno.EROFS);
  });

  test('the access recorder sees the first open of each regular file only, hardlinks under the payload name', async () => {
    accessed.length = 0;
    await fs.lookup(ino(''), 'b', ctx);
    await fs.readlink(ino('b'), ctx);
    await fs.opendir(ino('a'), 0, ctx);
    assert.deepEqual(accessed, []);
    await fs.open(ino('z'), 0, ctx);
    await fs.open(ino('a/hard'), 0, ctx);
    await fs.open(ino('a/hello'), 0, ctx);
    await fs.open(ino('z'), 0, ctx);
    assert.deepEqual(accessed, ['z', 'a/hello']);
    assert.deepEqual(await fs.open(ino('z'), 0, ctx), { keepCache: true });
  });
});
