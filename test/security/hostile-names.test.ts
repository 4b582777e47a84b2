// One rule for the names in a layer (oci/entry-name.ts, oci/whiteout.ts): unpacking, conversion to eStargz
// and the lazily mounted TOC filesystem must agree on every hostile name: the same tree, or the same
// refusal. Names that climb above the root, a whiteout of "..", absolute names, and parents reached
// through a symlink of the layer (inside it, or out of it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError } from '../../src/errors.js';
import { buildFooter } from '../../src/estargz/footer.js';
import { openEStargz } from '../../src/estargz/reader.js';
import { TocIndex } from '../../src/estargz/toc-index.js';
import { serializeTOC } from '../../src/estargz/toc-json.js';
import { TocDir } from '../../src/estargz/toc-node.js';
import { TOC_TAR_NAME, type TOCEntry } from '../../src/estargz/toc-types.js';
import { buildInodeTable, type InodeTable } from '../../src/fs/inode-table.js';
import { BufferRangeReader } from '../../src/content/range-reader.js';
import type { TarHeader } from '../../src/tar/header.js';
import { encodeTar } from '../../src/tar/writer.js';
import { unpackLayer } from '../../src/unpack/unpack-layer.js';
import { buildFromTar } from '../estargz/helpers.js';

const b = { mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1700000000 } as const;
type E = { header: TarHeader; data?: Buffer };
const file = (name: string, text = 'x'): E => ({ header: { ...b, name, type: 'file', size: text.length }, data: Buffer.from(text) });
const dir = (name: string): E => ({ header: { ...b, name, type: 'dir', mode: 0o755 } });
const sym = (name: string, linkname: string): E => ({ header: { ...b, name, type: 'symlink', linkname } });

/** Every path of a layer's FUSE view with its kind, "path kind" sorted (the root and landmarks excluded). */
function treeOf(table: InodeTable): string[] {
  const out: string[] = [];
  const walk = (dir: TocDir) => {
    for (const [, child] of table.list(dir)) {
      out.push(`${child.path} ${table.kind(child)}`);
      if (child instanceof TocDir) walk(child);
    }
  };
  walk(table.root);
  return out.sort();
}

/** The FUSE view of TOC entries (no payload: the members end anywhere). */
const tableOf = (entries: TOCEntry[]) => buildInodeTable(TocIndex.build(entries, 1 << 20));

/** The same listing of an unpacked directory. */
async function unpackedTree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, path));
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'reg' : 'other';
    out.push(`${path} ${kind}`);
    if (kind === 'dir') out.push(...(await unpackedTree(root, path)));
  }
  return out.sort();
}

/** What each of the three paths makes of a layer: its tree, or the refusal's message. */
async function threeWays(work: string, entries: E[]): Promise<{ unpack: string[] | string; convert: string[] | string; lazy: string[] | string }> {
  const tar = encodeTar(entries);
  const dest = await mkdtemp(join(work, 'unpack-'));
  const outcome = async (f: () => Promise<string[]>) =>
    f().catch((e: unknown) => {
      assert.ok(isCtrError(e, 'InvalidArgument'), `a refusal must be InvalidArgument: ${String(e)}`);
      return (e as Error).message;
    });
  const unpack = await outcome(async () => {
    await unpackLayer([tar], dest, { whiteouts: 'apply' });
    return unpackedTree(dest);
  });
  const convert = await outcome(async () => {
    const built = await buildFromTar(tar);
    const reader = await openEStargz(new BufferRangeReader(built.blob), { tocDigest: built.tocDigest });
    return treeOf(buildInodeTable(reader.index));
  });
  // A TOC written by some other tool, with the names exactly as in the tar (not cleaned by our writer).
  const lazy = await outcome(async () => treeOf(tableOf(entries.map((e) => tocEntry(e.header)))));
  return { unpack, convert, lazy };
}

function tocEntry(h: TarHeader): TOCEntry {
  const type = h.type === 'file' ? 'reg' : h.type === 'dir' ? 'dir' : h.type === 'symlink' ? 'symlink' : h.type === 'hardlink' ? 'hardlink' : 'fifo';
  return { name: h.name, type, mode: h.mode, ...(h.linkname ? { linkName: h.linkname } : {}), ...(type === 'reg' ? { size: h.size } : {}) };
}

describe('hostile names: unpack, convert and the lazy TOC filesystem agree', () => {
  let work: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-names-'));
  });
  after(() => rm(work, { recursive: true, force: true }));

  const refusedEverywhere = (r: Awaited<ReturnType<typeof threeWays>>, message: RegExp) => {
    for (const [way, v] of Object.entries(r)) {
      assert.equal(typeof v, 'string', `${way} accepted the layer: ${JSON.stringify(v)}`);
      assert.match(v as string, message, way);
    }
  };
  const sameTree = (r: Awaited<ReturnType<typeof threeWays>>, want: string[]) => {
    for (const [way, v] of Object.entries(r)) assert.deepEqual(v, want, way);
  };

  test('a name climbing above the root is refused by all three (not clamped)', async () => {
    refusedEverywhere(await threeWays(work, [file('../evil')]), /"\.\.\/evil" climbs above the layer root/);
    refusedEverywhere(await threeWays(work, [dir('ok/'), file('ok/../../evil')]), /climbs above the layer root/);
  });

  test('a whiteout of ".." (or ".") names no file: refused, never a second ".." entry', async () => {
    refusedEverywhere(await threeWays(work, [dir('d/'), file('d/.wh..', '')]), /whiteout "\.wh\.\." names no file/);
    refusedEverywhere(await threeWays(work, [file('.wh...', '')]), /whiteout "\.wh\.\.\." names no file/);
  });

  test('absolute and unclean names mean the same path everywhere; convert writes them cleaned', async () => {
    const entries = [dir('/abs/'), file('/abs/f'), file('./x//y/../z')];
    sameTree(await threeWays(work, entries), ['abs dir', 'abs/f reg', 'x dir', 'x/z reg']);
    const built = await buildFromTar(encodeTar(entries));
    const names = built.toc.entries.map((e) => e.name);
    assert.ok(names.includes('abs/f') && names.includes('x/z'), JSON.stringify(names));
    assert.ok(!names.some((n) => n.startsWith('/') || n.includes('..')), JSON.stringify(names));
  });

  test('a parent reached through a symlink of the layer is followed inside the layer, or refused when it leads out', async () => {
    sameTree(await threeWays(work, [sym('rootlink', '/'), file('rootlink/etc/hello')]), ['etc dir', 'etc/hello reg', 'rootlink symlink']);
    sameTree(await threeWays(work, [dir('usr/'), dir('usr/lib/'), sym('lib', 'usr/lib'), file('lib/libx.so')]), [
      'lib symlink', 'usr dir', 'usr/lib dir', 'usr/lib/libx.so reg',
    ]);
    refusedEverywhere(await threeWays(work, [sym('up', '../..'), file('up/x')]), /leads outside/);
    refusedEverywhere(await threeWays(work, [sym('a', 'b'), sym('b', 'a'), file('a/x')]), /too many levels of symbolic links/);
  });

  test("overlayfs metadata xattrs (opaque, redirect) are never taken from a layer: not by unpacking, not by the TOC filesystem", async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const xattrs = { 'trusted.overlay.opaque': b64('y'), 'trusted.overlay.redirect': b64('/etc'), 'user.overlay.opaque': b64('y'), 'user.note': b64('kept') };
    const table = tableOf([{ name: 'd/', type: 'dir', mode: 0o755, xattrs }]);
    assert.deepEqual([...table.xattrs(table.lookupPath('d')!).keys()], ['user.note']);
    const withOpaque = tableOf([{ name: 'd/', type: 'dir', mode: 0o755 }, { name: 'd/.wh..wh..opq', type: 'reg' }]);
    assert.deepEqual([...withOpaque.xattrs(withOpaque.lookupPath('d')!).keys()], ['trusted.overlay.opaque'], 'the opaque marker still makes a directory opaque');
    const dest = await mkdtemp(join(work, 'xattrs-'));
    const header: TarHeader = { ...b, name: 'd/', type: 'dir', mode: 0o755, xattrs: new Map(Object.entries(xattrs).map(([k, v]) => [k, Buffer.from(v, 'base64')])) };
    const result = await unpackLayer([encodeTar([{ header }])], dest, { whiteouts: 'apply' });
    for (const name of ['trusted.overlay.opaque', 'trusted.overlay.redirect', 'user.overlay.opaque']) {
      assert.ok(result.warnings.some((w) => w.includes(`ignored xattr ${name}`)), `${name}: ${JSON.stringify(result.warnings)}`);
    }
  });

  test('a blob whose TOC names a path above the root is refused when it is opened, before anything is mounted', async () => {
    for (const name of ['../../etc/passwd', 'a/../../x']) {
      const json = serializeTOC({ version: 1, entries: [{ name, type: 'reg', size: 0 }] });
      const tocMember = gzipSync(encodeTar([{ header: { ...b, name: TOC_TAR_NAME, type: 'file', size: json.length }, data: json }]));
      const blob = Buffer.concat([tocMember, buildFooter(0)]);
      await assert.rejects(openEStargz(new BufferRangeReader(blob)), (e: unknown) => {
        assert.ok(isCtrError(e, 'InvalidArgument'), String(e));
        assert.match((e as Error).message, /climbs above the layer root/);
        return true;
      });
    }
  });
});
