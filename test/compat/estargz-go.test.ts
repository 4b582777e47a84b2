// Compatibility with the reference Go eStargz library (stargz-snapshotter 0.12 from Debian): layers we
// write open, verify and read there; layers it writes open, verify and read here; eStargz-agnostic
// consumers (gunzip | tar) unpack ours to the source tree.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, symlink, link, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { openEStargz } from '../../src/estargz/reader.js';
import { serializeTOC, parseTOC } from '../../src/estargz/toc-json.js';
import { buildFooter } from '../../src/estargz/footer.js';
import { FileRangeReader } from '../../src/content/file-range-reader.js';
import { parseTarBuffer } from '../../src/tar/reader.js';
import { openStore } from '../../src/store/image-store.js';
import { cli } from '../cli/cli-harness.js';
import { buildFromTar, buildGoHarness, gnuTar, goBuild, goVerify, makeTree, tempDir } from '../estargz/helpers.js';
import { FIXTURE_CHUNK, fixtureFiles, fixtureTar, noise } from '../estargz/fixture-layer.js';
import { RootLayout } from '../../src/store/root-layout.js';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let dir = '';
let go = '';
let treeTar: Buffer;

before(async () => {
  dir = await tempDir('esgz-compat-');
  go = await buildGoHarness(join(dir, 'go'));
  const root = join(dir, 'tree');
  await makeTree(root, {
    'usr/bin/tool': noise(300_000, 7),
    'usr/lib/libx.so': Buffer.concat([noise(50_000, 8), Buffer.alloc(200_000, 0x41)]),
    'usr/share/doc/README': 'hello <world> & friends\n',
    'etc/os-release': 'ID=test\n',
    'empty': '',
  });
  await mkdir(join(root, 'var/empty-dir'), { recursive: true });
  await symlink('tool', join(root, 'usr/bin/alias'));
  await link(join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool-hard'));
  execFileSync('mkfifo', [join(root, 'var/fifo')]);
  treeTar = gnuTar(root, ['--xattrs']);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function ours(name: string, tar: Buffer, opts = {}) {
  const r = await buildFromTar(tar, opts);
  const path = join(dir, `${name}.esgz`);
  await writeFile(path, r.blob);
  return { ...r, path };
}

describe('layers we write, read by the reference', () => {
  test('rich fixture: opens, VerifyTOC(our digest), every chunk verifies, contents equal', async () => {
    const r = await ours('fixture', fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const g = goVerify(go, r.path, r.tocDigest);
    assert.equal(g.tocDigest, r.tocDigest);
    const files = new Map(g.files.map((f) => [f.name, f]));
    for (const [name, data] of fixtureFiles()) {
      assert.equal(files.get(name)?.sha256, sha(data), name);
    }
    assert.equal(files.get('bin/big')?.chunks, 4);
    assert.equal(files.get('etc/hosts')?.uid, 300000);
    assert.equal(files.get('dev/null')?.type, 'char');
    assert.equal(files.get('bin/sh')?.linkName, 'busybox');
    assert.equal(g.order[0], '.no.prefetch.landmark', 'landmark is the first TOC entry');
    const fr = await FileRangeReader.open(r.path);
    assert.equal(g.tocOffset, (await openEStargz(fr)).tocOffset);
    await fr.close();
  });

  test('GNU tar tree with prioritized files: reference sees our order and verifies every chunk', async () => {
    const r = await ours('prio', treeTar, { chunkSize: 100_000, prioritizedFiles: ['usr/share/doc/README', 'usr/bin/tool-hard'] });
    const g = goVerify(go, r.path, r.tocDigest);
    const landmark = g.order.indexOf('.prefetch.landmark');
    assert.deepEqual(g.order.slice(0, landmark + 1), ['', 'usr', 'usr/share', 'usr/share/doc', 'usr/share/doc/README', 'usr/bin', 'usr/bin/tool', 'usr/bin/tool-hard', '.prefetch.landmark']);
    assert.equal(g.files.find((f) => f.name === 'usr/bin/tool')?.chunks, 3);
    assert.equal(g.files.find((f) => f.name === 'usr/bin/tool')?.numLink, 2);
  });

  test('a prioritized file whose parents have no tar entries converts (the reference 0.12 fails here)', async () => {
    const tar = fixtureTar();
    const tarPath = join(dir, 'fixture.tar');
    await writeFile(tarPath, tar);
    assert.throws(() => goBuild(go, tarPath, join(dir, 'go-orphan.esgz'), 0, ['orphan/child/file']), /not found/);
    const r = await ours('orphan', tar, { prioritizedFiles: ['orphan/child/file'] });
    const g = goVerify(go, r.path, r.tocDigest);
    assert.deepEqual(g.order.slice(0, 5), ['', 'orphan', 'orphan/child', 'orphan/child/file', '.prefetch.landmark']);
  });

  test('zstd:chunked: the reference opens our blob with its zstdchunked decompressor and verifies every chunk', async () => {
    const r = await ours('zstd', fixtureTar(), { chunkSize: FIXTURE_CHUNK, compression: 'zstd' });
    const g = goVerify(go, r.path, r.tocDigest, true);
    assert.equal(g.tocDigest, r.tocDigest);
    const files = new Map(g.files.map((f) => [f.name, f]));
    for (const [name, data] of fixtureFiles()) assert.equal(files.get(name)?.sha256, sha(data), name);
    assert.equal(files.get('bin/big')?.chunks, 4);
    assert.equal(g.order[0], '.no.prefetch.landmark');
    const [off, clen, ulen, type] = r.zstdChunked!.manifestPosition.split(':').map(Number);
    assert.equal(off, g.tocOffset);
    assert.equal(type, 1);
    assert.equal(sha(r.blob.subarray(off!, off! + clen!)), r.zstdChunked!.manifestChecksum);
    assert.equal(ulen, serializeTOC(r.toc).length);
    const plain = execFileSync('sh', ['-c', `zstd -dc ${r.path} | tar -t | sort`]).toString();
    assert.match(plain, /bin\/big/, 'zstd -d | tar reads the layer');
  });

  test('gunzip | tar -x of our layer gives the same tree as the source layer', async () => {
    const r = await ours('agnostic', treeTar, { chunkSize: 100_000 });
    const listing = (tar: Buffer) => {
      const d = join(dir, `x-${sha(tar).slice(7, 19)}`);
      execFileSync('mkdir', ['-p', d]);
      execFileSync('tar', ['-x', '--xattrs', '-C', d], { input: tar });
      return execFileSync('sh', ['-c', `cd ${d} && find . ! -name '*.landmark' ! -name stargz.index.json -printf '%p %y %m %s %l %n\\n' | sort && find . -type f ! -name '*.landmark' ! -name stargz.index.json -exec sha256sum {} + | sort`]).toString();
    };
    const viaCli = execFileSync('sh', ['-c', `gunzip -c ${r.path}`], { maxBuffer: 1 << 28 });
    assert.equal(listing(viaCli), listing(treeTar));
  });
});

describe('layers the reference writes, read by us', () => {
  for (const [label, chunk, prio] of [['default chunking', 0, []], ['small chunks, prioritized', 65_536, ['etc/os-release', 'usr/bin/tool']]] as const) {
    test(`${label}: opens, TOC digest equal, every file equal and verified`, async () => {
      const tarPath = join(dir, `${label}.tar`);
      await writeFile(tarPath, treeTar);
      const out = join(dir, `${label}.go.esgz`);
      const g = goBuild(go, tarPath, out, chunk, [...prio]);
      const blob = await readFile(out);
      const fr = await FileRangeReader.open(out);
      after(() => fr.close());
      const rd = await openEStargz(fr, { tocDigest: g.tocDigest });
      assert.equal(rd.tocDigest, g.tocDigest);
      assert.equal(sha(gunzipSync(blob)), g.diffId);
      const src = parseTarBuffer(treeTar);
      let files = 0;
      for (const { header, data } of src) {
        if (header.type !== 'file') continue;
        const e = rd.lookup(header.name);
        assert.ok(e, header.name);
        assert.deepEqual(await rd.readFile(e, 0, header.size), data, header.name);
        files++;
      }
      assert.ok(files >= 5);
      assert.equal(rd.lookup('usr/bin/tool-hard'), rd.lookup('usr/bin/tool'));
      assert.equal(rd.lookup('usr/bin/tool')?.numLink, 2);
      // Our serializer reproduces the reference's TOC bytes exactly; our footer equals its footer.
      const tocTar = gunzipSync(blob.subarray(rd.tocOffset, blob.length - 51));
      const json = parseTarBuffer(tocTar)[0]!.data;
      assert.equal(serializeTOC(parseTOC(json)).toString(), json.toString());
      assert.deepEqual(blob.subarray(blob.length - 51), buildFooter(rd.tocOffset));
      // The CLI's get-toc-digest, reading the reference's blob from the local store, prints its TOC digest.
      const root = join(dir, `root-${chunk}`);
      await (await openStore(new RootLayout(root))).putBytes(blob);
      const cliRun = await cli(['--root', root, 'image', 'get-toc-digest', sha(blob)]);
      assert.equal(cliRun.stdout.trim(), g.tocDigest, cliRun.stderr);
    });
  }

  test('our TOC JSON survives the reference json.Unmarshal → MarshalIndent byte for byte', async () => {
    const r = await buildFromTar(fixtureTar(), { chunkSize: FIXTURE_CHUNK });
    const json = serializeTOC(r.toc);
    const back = execFileSync(go, ['remarshal'], { input: json });
    assert.equal(back.toString(), json.toString());
  });
});
