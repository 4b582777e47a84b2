// --platform on every command, single-platform images included: a single-platform image is taken as it
// is unless --platform asks for another platform (then an error naming what the image has); `run`
// refuses an image this host does not run unless --platform asked for it. Real registry, real runc.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageSummary } from '../../src/image/copy/list-images.js';
import { formatPlatform, hostPlatform, parsePlatform, platformMatches, runnablePlatforms } from '../../src/image/platform.js';
import type { ImageConfig, Manifest } from '../../src/oci/types.js';
import { buildImage, buildIndex, type BuiltImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, cliProcess } from './cli-harness.js';

let tmp: string;
let src: string;
let reg: RegistryFixture;
let amd: BuiltImage;
let arm: BuiltImage;
let roots = 0;
const freshRoot = () => join(tmp, `root-${roots++}`);
const ls = async (root: string) => JSON.parse((await cli(['--root', root, 'image', 'ls', '--json'])).stdout) as ImageSummary[];

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-platform-'));
  reg = await startRegistry();
  src = join(tmp, 'src');
  amd = await buildImage(src, 'amd', { layers: [{ entries: [{ path: 'amd', type: 'file', content: 'amd' }] }] });
  arm = await buildImage(src, 'arm', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [{ entries: [{ path: 'arm', type: 'file', content: 'arm' }] }] });
  await buildIndex(src, 'multi', [amd, arm]);
  for (const [name, all] of [['amd', false], ['arm', false], ['multi', true]] as const) {
    execFileSync('skopeo', ['copy', '-q', ...(all ? ['--all'] : []), '--dest-tls-verify=false', `oci:${src}:${name}`, `docker://${reg.host}/${name}:1`]);
  }
});
after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('parsing and matching', () => {
  test('parsePlatform normalises names and takes one word as an OS or an architecture', () => {
    const cases: [string, string][] = [
      ['linux/amd64', 'linux/amd64'],
      ['Linux/X86_64', 'linux/amd64'],
      ['linux/aarch64', 'linux/arm64/v8'],
      ['linux/arm64', 'linux/arm64/v8'],
      ['linux/armhf', 'linux/arm/v7'],
      ['linux/arm/6', 'linux/arm/v6'],
      ['linux/i386', 'linux/386'],
      ['s390x', 'linux/s390x'],
      ['linux', formatPlatform({ ...hostPlatform(), os: 'linux' })],
      ['windows/amd64', 'windows/amd64'],
    ];
    for (const [text, want] of cases) assert.equal(formatPlatform(parsePlatform(text)), want, text);
    for (const bad of ['bogus', 'linux/bogus', 'plan10/amd64', 'linux/', '/amd64', 'linux/amd64/v2/x', 'linux/amd 64', '']) {
      assert.throws(() => parsePlatform(bad), (e: Error) => /Unknown|Malformed/.test(e.message), JSON.stringify(bad));
    }
  });

  test('platformMatches: a variant asked for must match; none asked takes any; images without a variant get the default', () => {
    assert.ok(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64' }));
    assert.ok(platformMatches(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'amd64', variant: 'v3' }));
    assert.ok(!platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v7' }));
    assert.ok(!platformMatches(parsePlatform('linux/amd64'), { os: 'linux', architecture: 'arm64' }));
    assert.ok(!platformMatches(parsePlatform('linux/amd64'), undefined));
  });

  test('an amd64 host runs linux/amd64 and linux/386', () => {
    assert.deepEqual(runnablePlatforms({ os: 'linux', architecture: 'amd64' }).map(formatPlatform), ['linux/amd64', 'linux/386']);
    assert.deepEqual(runnablePlatforms({ os: 'linux', architecture: 'arm64', variant: 'v8' }).map(formatPlatform), ['linux/arm64/v8']);
  });
});

describe('single-platform images', () => {
  test('pull: --platform must match a single-platform image; without it the image is taken as it is', async () => {
    const root = freshRoot();
    for (const platform of ['linux/s390x', 'linux/arm64/v8']) {
      const r = await cli(['--root', root, 'image', 'pull', '--platform', platform, `${reg.host}/amd:1`]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ctr-remote: pull ${reg.host}/amd:1: .*has no manifest for ${platform} \\(it has: linux/amd64\\)\\n$`));
    }
    assert.deepEqual(await ls(root), [], 'nothing stored');
    const ok = await cli(['--root', root, 'image', 'pull', '--json', '--platform', 'linux/amd64', `${reg.host}/amd:1`]);
    assert.equal(ok.code, 0, ok.stderr);
    const armPull = await cli(['--root', root, 'image', 'pull', '--json', `${reg.host}/arm:1`]);
    assert.equal(armPull.code, 0, armPull.stderr);
    assert.equal((JSON.parse(armPull.stdout) as { digest: string }).digest, arm.manifestDigest);
    assert.equal((await cli(['--root', root, 'image', 'pull', '--platform', 'linux/arm64/v8', `${reg.host}/arm:1`])).code, 0);
  });

  test('rpull and push check a single-platform image against --platform too', async () => {
    const root = freshRoot();
    const r = await cli(['--root', root, 'image', 'rpull', '--platform', 'linux/arm64', `${reg.host}/amd:1`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /has no manifest for linux\/arm64\/v8 \(it has: linux\/amd64\)/);
    assert.deepEqual(await ls(root), []);
    assert.equal((await cli(['--root', root, 'image', 'tag', `oci:${src}:amd`, 'local:1'])).code, 0);
    const push = await cli(['--root', root, 'image', 'push', '--platform', 'linux/arm64', `${reg.host}/pushed:1`, 'local:1']);
    assert.equal(push.code, 1, push.stderr);
    assert.match(push.stderr, /has no manifest for linux\/arm64\/v8 \(it has: linux\/amd64\)/);
  });

  test('convert --platform: another platform of a single-platform image is an error; of an index, that platform is converted', async () => {
    const root = freshRoot();
    const bad = await cli(['--root', root, 'image', 'convert', '--estargz', '--oci', '--platform', 'linux/arm64', `oci:${src}:amd`, 'out:1']);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /has no manifest for linux\/arm64\/v8 \(it has: linux\/amd64\)/);
    assert.deepEqual(await ls(root), []);
    const out = join(tmp, 'converted');
    const ok = await cli(['--root', root, 'image', 'convert', '--estargz', '--oci', '--platform', 'linux/arm64', `oci:${src}:multi`, `oci:${out}:arm`]);
    assert.equal(ok.code, 0, ok.stderr);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(join(out, 'blobs', 'sha256', index.manifests[0]!.digest.slice(7)), 'utf8')) as Manifest;
    const config = JSON.parse(await readFile(join(out, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8')) as ImageConfig;
    assert.equal(`${config.os}/${config.architecture}`, 'linux/arm64');
  });
});

const skipRoot = process.getuid?.() !== 0 ? 'needs root: runc containers on overlayfs' : false;

describe('run and the image platform', { skip: skipRoot }, () => {
  test('run refuses an image for a platform this host does not run, unless --platform asks for it', { skip: hostPlatform().architecture !== 'amd64' ? 'the test images carry amd64 busybox binaries' : false }, async () => {
    const root = freshRoot();
    // The binaries are the host's busybox whatever the config says, so the "arm64" image does run when asked.
    const images: [string, string][] = [['arm64', 'linux/arm64/v8'], ['i386', 'linux/386'], ['amd64', 'linux/amd64']];
    for (const [name, platform] of images) {
      const p = parsePlatform(platform);
      await buildImage(join(tmp, 'run-src'), name, { platform: p, layers: [{ busybox: true }], config: { Env: ['PATH=/bin'], Cmd: ['echo', `hello ${name}`] } });
      assert.equal((await cli(['--root', root, 'image', 'tag', `oci:${join(tmp, 'run-src')}:${name}`, `plat/${name}:1`])).code, 0);
    }
    const refused = await cliProcess(['--root', root, 'run', '--rm', 'plat/arm64:1', 'h9-cli-plat1']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');
    assert.equal(
      refused.stderr,
      'ctr-remote: run h9-cli-plat1: image docker.io/plat/arm64:1 is a linux/arm64/v8 image; this host runs linux/amd64 and linux/386 (add --platform linux/arm64/v8 to run it anyway, e.g. with qemu binfmt)\n',
    );
    const asked = await cliProcess(['--root', root, 'run', '--rm', '--platform', 'linux/arm64', 'plat/arm64:1', 'h9-cli-plat2']);
    assert.deepEqual([asked.code, asked.stdout], [0, 'hello arm64\n'], asked.stderr);
    const other = await cliProcess(['--root', root, 'run', '--rm', '--platform', 'linux/s390x', 'plat/arm64:1', 'h9-cli-plat3']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /has no manifest for linux\/s390x \(it has: linux\/arm64\/v8\)/);
    for (const name of ['i386', 'amd64']) {
      const r = await cliProcess(['--root', root, 'run', '--rm', `plat/${name}:1`, `h9-cli-plat-${name}`]);
      assert.deepEqual([r.code, r.stdout], [0, `hello ${name}\n`], r.stderr);
    }
  });
});
