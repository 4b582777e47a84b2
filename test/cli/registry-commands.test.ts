// pull and push against a real registry (Debian's docker-registry), compared with what skopeo does.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ImageSummary } from '../../src/image/copy/list-images.js';
import type { Index } from '../../src/oci/types.js';
import { buildImage, buildIndex, type BuiltImage } from '../fixtures/image-builder.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, spawnCli } from './cli-harness.js';

let tmp: string;
let reg: RegistryFixture;
let proxy: FaultProxy;
let img: BuiltImage;
let arm: BuiltImage;
let big: BuiltImage;
let indexDigest: string;

const skopeo = (...args: string[]) => execFileSync('skopeo', args, { encoding: 'utf8' });
const ls = async (root: string) => JSON.parse((await cli(['--root', root, 'image', 'ls', '--json'])).stdout) as ImageSummary[];
let roots = 0;
const freshRoot = () => join(tmp, `root-${roots++}`);

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-registry-'));
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  const src = join(tmp, 'src');
  img = await buildImage(src, 'app', { layers: [{ entries: [{ path: 'etc/a', type: 'file', content: 'a'.repeat(5000) }] }, { entries: [{ path: 'b', type: 'file', content: 'b' }] }] });
  arm = await buildImage(src, 'arm', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [{ entries: [{ path: 'arm', type: 'file', content: 'arm' }] }] });
  indexDigest = (await buildIndex(src, 'multi', [arm, img])).digest;
  big = await buildImage(src, 'big', { layers: [{ entries: [{ path: 'random.bin', type: 'file', content: randomBytes(4 << 20) }] }] });
  for (const [name, all] of [['app', false], ['multi', true], ['big', false]] as const) {
    skopeo('copy', '-q', ...(all ? ['--all'] : []), '--dest-tls-verify=false', `oci:${src}:${name}`, `docker://${reg.host}/${name}:1`);
  }
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('pull', () => {
  test('pull stores the image under its full name; plain progress lines go to stderr', async () => {
    const root = freshRoot();
    const r = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^pulled ${reg.host}/app:1 ${img.manifestDigest} \\(`));
    for (const l of img.layers) assert.match(r.stderr, new RegExp(`^done +${l.digest.slice(0, 19)} `, 'm'));
    const rows = await ls(root);
    assert.deepEqual(rows.map((x) => [x.name, x.digest, x.type]), [[`${reg.host}/app:1`, img.manifestDigest, 'full']]);
    // A second pull finds everything present.
    const again = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:1`]);
    assert.equal(again.code, 0);
    assert.equal((again.stderr.match(/^exists /gm) ?? []).length, 3, 'config and both layers skipped');
  });

  test('a multi-platform pull picks the host platform, like skopeo; --platform and --all-platforms choose otherwise', async () => {
    const skopeoDir = join(tmp, 'skopeo-pull');
    skopeo('copy', '-q', '--src-tls-verify=false', `docker://${reg.host}/multi:1`, `oci:${skopeoDir}:x`);
    const skopeoIndex = JSON.parse(await readFile(join(skopeoDir, 'index.json'), 'utf8')) as Index;
    const root = freshRoot();
    const r = await cli(['--root', root, 'image', 'pull', '--json', `${reg.host}/multi:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', '--json prints nothing but data');
    const out = JSON.parse(r.stdout) as { digest: string };
    assert.equal(out.digest, skopeoIndex.manifests[0]!.digest, 'same manifest as skopeo pulls');
    assert.equal(out.digest, img.manifestDigest);
    const a = JSON.parse((await cli(['--root', root, 'image', 'pull', '--json', '--platform', 'linux/arm64', `${reg.host}/multi:1`])).stdout) as { digest: string };
    assert.equal(a.digest, arm.manifestDigest);
    const all = JSON.parse((await cli(['--root', root, 'image', 'pull', '--json', '--all-platforms', `${reg.host}/multi:1`])).stdout) as { digest: string };
    assert.equal(all.digest, indexDigest);
    assert.deepEqual((await ls(root))[0]?.platforms, ['linux/arm64/v8', 'linux/amd64']);
    const none = await cli(['--root', root, 'image', 'pull', '--platform', 'linux/s390x', `${reg.host}/multi:1`]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no manifest for linux\/s390x \(it has: linux\/arm64\/v8, linux\/amd64\)/);
  });

  test('an unknown tag is one error line and nothing is stored', async () => {
    const root = freshRoot();
    const r = await cli(['--root', root, 'image', 'pull', `${reg.host}/app:nope`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.split('\n').length, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^ctr-remote: pull ${reg.host}/app:nope: .*(not found|unknown)`, 'i'));
    assert.deepEqual(await ls(root), []);
  });

  test('a corrupted layer fails the pull with DigestMismatch and stores no name', async () => {
    const root = freshRoot();
    const rule = proxy.addRule({ method: 'GET', path: new RegExp(img.layers[0]!.digest), flipByteAt: 3 });
    try {
      const r = await cli(['--root', root, 'image', 'pull', `${proxy.host}/app:1`]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`${img.layers[0]!.digest}.*(wrong content|digest)`));
    } finally {
      proxy.removeRule(rule);
    }
    assert.deepEqual(await ls(root), []);
  });

  test('a pull SIGKILLed mid-layer leaves no visible image; the next pull succeeds', async () => {
    const root = freshRoot();
    const layer = big.layers[0]!.digest;
    const slow = proxy.addRule({ method: 'GET', path: new RegExp(`/blobs/${layer}`), bytesPerSec: 1 << 20 });
    const child = spawnCli(['--root', root, 'image', 'pull', `${proxy.host}/big:1`]);
    try {
      const deadline = Date.now() + 45_000;
      while ((proxy.stats.bytesByPath.get(`/v2/big/blobs/${layer}`) ?? 0) < 300_000) {
        assert.ok(Date.now() < deadline, 'the layer download started');
        await sleep(50);
      }
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.on('close', resolve));
      proxy.removeRule(slow);
    }
    assert.deepEqual(await ls(root), [], 'no image after the kill');
    const blobs = await readdir(join(root, 'store', 'blobs', 'sha256'));
    assert.ok(!blobs.includes(layer.slice(7)), 'the partial layer is not a blob');
    const r = await cli(['--root', root, 'image', 'pull', `${proxy.host}/big:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((await ls(root)).map((x) => [x.digest, x.type]), [[big.manifestDigest, 'full']]);
  });
});

describe('interrupt', () => {
  test('SIGINT mid-layer exits 130 and leaves no image, ingest file or lease behind', async () => {
    const root = freshRoot();
    const layer = big.layers[0]!.digest;
    const slow = proxy.addRule({ method: 'GET', path: new RegExp(`/blobs/${layer}`), bytesPerSec: 1 << 20 });
    proxy.stats.reset();
    const child = spawnCli(['--root', root, 'image', 'pull', `${proxy.host}/big:1`]);
    let stderr = '';
    child.stderr!.on('data', (c) => (stderr += String(c)));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const deadline = Date.now() + 45_000;
      while ((proxy.stats.bytesByPath.get(`/v2/big/blobs/${layer}`) ?? 0) < 300_000) {
        assert.ok(Date.now() < deadline, 'the layer download started');
        await sleep(50);
      }
      child.kill('SIGINT');
      assert.equal(await closed, 130, stderr);
    } finally {
      child.kill('SIGKILL');
      proxy.removeRule(slow);
    }
    assert.match(stderr, /^ctr-remote: pull .*: .*abort/im);
    assert.deepEqual(await ls(root), []);
    assert.deepEqual(await readdir(join(root, 'store', 'ingest')), [], 'ingest file and lease removed');
  });
});

describe('credentials', () => {
  test('-u works against basic auth; a wrong password is one clear line that never shows the password, even with --debug', async () => {
    const authReg = await startRegistry({ auth: 'htpasswd' });
    try {
      const root = freshRoot();
      assert.equal((await cli(['--root', root, 'image', 'tag', `oci:${join(tmp, 'src')}:app`, 'local/app:1'])).code, 0);
      const ok = await cli(['--root', root, 'image', 'push', '-u', `${authReg.username}:${authReg.password}`, `${authReg.host}/auth/app:1`, 'local/app:1']);
      assert.equal(ok.code, 0, ok.stderr);
      const secret = 'Sup3r-Secret-Value';
      const bad = await cli(['--root', freshRoot(), '--debug', 'image', 'pull', '-u', `${authReg.username}:${secret}`, `${authReg.host}/auth/app:1`]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, new RegExp(`^ctr-remote: pull ${authReg.host}/auth/app:1: .*(unauthorized|credentials|401)`, 'im'));
      assert.ok(!bad.stderr.includes(secret) && !bad.stdout.includes(secret), 'the password never appears');
      const good = await cli(['--root', freshRoot(), 'image', 'pull', '--json', '-u', `${authReg.username}:${authReg.password}`, `${authReg.host}/auth/app:1`]);
      assert.equal((JSON.parse(good.stdout) as { digest: string }).digest, img.manifestDigest);
    } finally {
      await authReg.stop();
    }
  });
});

describe('push', () => {
  test('push sends a local image that skopeo then sees with the same digest; pulling it back round-trips', async () => {
    const root = freshRoot();
    assert.equal((await cli(['--root', root, 'image', 'tag', `oci:${join(tmp, 'src')}:app`, 'local/app:1'])).code, 0);
    const r = await cli(['--root', root, 'image', 'push', `${reg.host}/pushed:1`, 'local/app:1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^pushed ${reg.host}/pushed:1 ${img.manifestDigest}`));
    const inspect = JSON.parse(skopeo('inspect', '--tls-verify=false', `docker://${reg.host}/pushed:1`)) as { Digest: string };
    assert.equal(inspect.Digest, img.manifestDigest);
    const back = freshRoot();
    const p = await cli(['--root', back, 'image', 'pull', '--json', `${reg.host}/pushed:1`]);
    assert.equal((JSON.parse(p.stdout) as { digest: string }).digest, img.manifestDigest);
    // Pushing again skips every blob.
    const again = await cli(['--root', root, 'image', 'push', `${reg.host}/pushed:1`, 'local/app:1']);
    assert.equal((again.stderr.match(/^exists /gm) ?? []).length, 3, again.stderr);
  });

  test('push of a multi-platform image sends the whole index', async () => {
    const root = freshRoot();
    assert.equal((await cli(['--root', root, 'image', 'pull', '--all-platforms', `${reg.host}/multi:1`])).code, 0);
    const r = await cli(['--root', root, 'image', 'push', '--json', `${reg.host}/multi-copy:1`, `${reg.host}/multi:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, indexDigest);
    const raw = JSON.parse(skopeo('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/multi-copy:1`)) as Index;
    assert.deepEqual(raw.manifests.map((m) => m.digest), [arm.manifestDigest, img.manifestDigest]);
    const one = await cli(['--root', root, 'image', 'push', '--json', '--platform', 'linux/arm64', `${reg.host}/multi-arm:1`, `${reg.host}/multi:1`]);
    assert.equal((JSON.parse(one.stdout) as { digest: string }).digest, arm.manifestDigest, '--platform pushes that platform only');
  });

  test('push of an unknown local image is one error line', async () => {
    const r = await cli(['--root', freshRoot(), 'image', 'push', `${reg.host}/x:1`]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `ctr-remote: push ${reg.host}/x:1: image ${reg.host}/x:1 not found in ${join(tmp, `root-${roots - 1}`, 'store')}\n`);
  });
});
