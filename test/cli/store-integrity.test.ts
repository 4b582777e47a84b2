// A blob in the store that went bad (one flipped byte, same size; or a wrong size) is never trusted:
// `image export` fails on it instead of shipping it, and `image pull` (and import) verify what they find
// already stored and replace a corrupt copy with good bytes. Against a real registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, cliProcess } from './cli-harness.js';

let tmp: string;
let reg: RegistryFixture;
let img: BuiltImage;
let roots = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-integrity-'));
  reg = await startRegistry();
  const src = join(tmp, 'src');
  img = await buildImage(src, 'app', {
    layers: [{ entries: [{ path: 'big.bin', type: 'file', content: randomBytes(1 << 20) }] }, { entries: [{ path: 'small', type: 'file', content: 'small' }] }],
  });
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${src}:app`, `docker://${reg.host}/app:1`]);
});
after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const blobPath = (root: string, digest: string) => join(root, 'store', 'blobs', 'sha256', digest.slice(7));
const sha256 = async (path: string) => `sha256:${createHash('sha256').update(await readFile(path)).digest('hex')}`;

async function pulledRoot(): Promise<string> {
  const root = join(tmp, `root-${roots++}`);
  const r = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:1`]);
  assert.equal(r.code, 0, r.stderr);
  return root;
}

async function flipByte(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, offset);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, offset);
  } finally {
    await fh.close();
  }
}

describe('export', () => {
  test('a same-size blob with one flipped byte fails the export: one line, exit 1, no archive and no temp file', async () => {
    const root = await pulledRoot();
    const layer = img.layers[0]!.digest;
    await flipByte(blobPath(root, layer), 500_000);
    const out = join(tmp, 'exports');
    execFileSync('mkdir', ['-p', out]);
    const file = join(out, 'app.tar');
    const r = await cliProcess(['--root', root, 'image', 'export', file, `${reg.host}/app:1`]);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^ctr-remote: export ${file}: blob ${layer} in .*/store has wrong content: its sha256 is sha256:[0-9a-f]{64}; pull the image again`));
    assert.deepEqual(await readdir(out), [], 'neither FILE nor its temp file exists');
    // The intact image exports (and the archive imports elsewhere with the same digests).
    const fresh = await pulledRoot();
    assert.equal((await cliProcess(['--root', fresh, 'image', 'export', file, `${reg.host}/app:1`])).code, 0);
    const other = join(tmp, `root-${roots++}`);
    const imp = await cli(['--root', other, 'image', 'import', '--json', file]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.equal(await sha256(blobPath(other, layer)), layer);
  });
});

describe('pull over a damaged store', () => {
  test('a same-size blob with a flipped byte is found, reported and downloaded again', async () => {
    const root = await pulledRoot();
    const layer = img.layers[0]!.digest;
    await flipByte(blobPath(root, layer), 1234);
    const r = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`^ctr-remote: warning: ${layer} in .* was corrupt \\(its sha256 is sha256:[0-9a-f]{64}\\); copying it again$`, 'm'));
    assert.match(r.stderr, new RegExp(`^done +${layer.slice(0, 19)} `, 'm'), 'the layer was downloaded, not skipped');
    assert.equal((r.stderr.match(/^exists /gm) ?? []).length, 2, 'config and the intact layer are still skipped');
    assert.equal(await sha256(blobPath(root, layer)), layer, 'the store holds the right bytes again');
    assert.equal((await cliProcess(['--root', root, 'image', 'export', join(tmp, `ok-${roots}.tar`), `${reg.host}/app:1`])).code, 0);
  });

  test('a truncated blob and a corrupt config are replaced too; an intact store is left as it is', async () => {
    const root = await pulledRoot();
    const layer = img.layers[0]!.digest;
    await truncate(blobPath(root, layer), 1000);
    await flipByte(blobPath(root, img.configDigest), 3);
    const r = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: ${layer} .* was corrupt \\(it has 1000 bytes, not ${img.layers[0]!.size}\\)`));
    assert.match(r.stderr, new RegExp(`warning: ${img.configDigest} .* was corrupt`));
    for (const d of [layer, img.configDigest]) assert.equal(await sha256(blobPath(root, d)), d);
    const again = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:1`]);
    assert.doesNotMatch(again.stderr, /warning/);
    assert.equal((again.stderr.match(/^exists /gm) ?? []).length, 3);
  });

  test('import over a corrupt stored blob replaces it with the archive\'s verified bytes', async () => {
    const good = await pulledRoot();
    const file = join(tmp, `import-${roots}.tar`);
    assert.equal((await cli(['--root', good, 'image', 'export', file, `${reg.host}/app:1`])).code, 0);
    const root = await pulledRoot();
    const layer = img.layers[0]!.digest;
    await flipByte(blobPath(root, layer), 10);
    const r = await cli(['--root', root, 'image', 'import', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sha256(blobPath(root, layer)), layer);
  });
});
