// The store-side commands over a real store: content ls/get/fetch/rm, images check/label, version, and the
// pull/rpull flags that go with them (--label, --print-chainid, --all-metadata, --snapshotter) against a real
// registry. A blob corrupted on disk must be named by `images check` and `content get` (exit 1).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContentInfo } from '../../src/image/content/list-content.js';
import type { ImageCheck } from '../../src/image/copy/check-images.js';
import { chainIds } from '../../src/oci/chain-id.js';
import type { Index } from '../../src/oci/types.js';
import { buildImage, buildIndex, type BuiltImage } from '../fixtures/image-builder.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli } from './cli-harness.js';
import { execa } from 'execa';
import { mkdir, stat } from 'node:fs/promises';
import { Context } from '../../src/image/context.js';
import { tagImage } from '../../src/image/copy/tag-image.js';
import { openStoredImage } from '../../src/image/stored-image.js';
import type { RootSnapshot } from '../../src/image/snapshots/snapshot-view.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { buildRunImage, FULL, startCli } from '../runtime/run-fixture.js';

let tmp: string;
let src: string;
let img: BuiltImage;
let arm: BuiltImage;
let reg: RegistryFixture;
const root = () => join(tmp, 'root');
const APP = 'docker.io/library/app:1';
let roots = 0;
const freshRoot = () => join(tmp, `root-${roots++}`);
const blobFile = (r: string, digest: string) => join(r, 'store', 'blobs', 'sha256', digest.slice(7));
const storeIndex = async (r: string) => JSON.parse(await readFile(join(r, 'store', 'index.json'), 'utf8')) as Index;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-store-'));
  src = join(tmp, 'src');
  img = await buildImage(src, 'app', { layers: [{ entries: [{ path: 'a', type: 'file', content: 'a'.repeat(3000) }] }, { entries: [{ path: 'b', type: 'file', content: 'b' }] }] });
  arm = await buildImage(src, 'arm', { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, layers: [{ entries: [{ path: 'arm', type: 'file', content: 'arm' }] }] });
  await buildIndex(src, 'multi', [arm, img]);
  reg = await startRegistry();
  for (const [name, all] of [['app', false], ['multi', true]] as const) {
    execFileSync('skopeo', ['copy', '-q', ...(all ? ['--all'] : []), '--dest-tls-verify=false', `oci:${src}:${name}`, `docker://${reg.host}/${name}:1`]);
  }
  const t = await cli(['--root', root(), 'image', 'tag', `oci:${src}:app`, 'app:1']);
  assert.equal(t.code, 0, t.stderr);
});
after(async () => {
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('content', () => {
  test('ls lists every blob with the images using it (table, -q, --json)', async () => {
    const json = await cli(['--root', root(), 'content', 'ls', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const blobs = JSON.parse(json.stdout) as ContentInfo[];
    const want = [img.manifestDigest, img.configDigest, ...img.layers.map((l) => l.digest)].sort();
    assert.deepEqual(blobs.map((b) => b.digest), want);
    for (const b of blobs) assert.deepEqual(b.images, [APP], b.digest);
    assert.equal(blobs.find((b) => b.digest === img.layers[0]!.digest)?.size, img.layers[0]!.size);
    assert.equal((await cli(['--root', root(), 'content', 'list', '-q'])).stdout, `${want.join('\n')}\n`);
    const table = (await cli(['--root', root(), 'content', 'ls'])).stdout.split('\n');
    assert.match(table[0]!, /^DIGEST\s+SIZE\s+AGE\s+IMAGES$/);
    assert.match(table[1]!, new RegExp(`^sha256:[0-9a-f]{64}\\s+\\S+ \\S+\\s+\\d+ seconds?\\s+${APP}$`));
  });

  test('get writes the blobs, byte for byte; a bad or unknown digest is one clear line', async () => {
    const r = await cli(['--root', root(), 'content', 'get', img.configDigest]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, await readFile(blobFile(root(), img.configDigest), 'utf8'));
    const two = await cli(['--root', root(), 'content', 'get', img.manifestDigest, img.configDigest]);
    assert.equal(two.stdout, img.manifestBytes.toString() + r.stdout);
    const bad = await cli(['--root', root(), 'content', 'get', 'sha256:xyz']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'ctr-remote: content get sha256:xyz: invalid digest "sha256:xyz" (want sha256:<64 hex>)\n');
    const missing = `sha256:${'0'.repeat(64)}`;
    const nf = await cli(['--root', root(), 'content', 'get', missing]);
    assert.equal(nf.code, 1);
    assert.match(nf.stderr, new RegExp(`blob ${missing} not found`));
  });

  test('rm refuses a blob an image uses (nothing deleted) and deletes an unused one', async () => {
    const layer = img.layers[1]!.digest;
    const r = await cli(['--root', root(), 'content', 'rm', layer]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`blob ${layer} is used by image ${APP}: remove the image \\(image rm\\), or pass --force`));
    assert.ok(await readFile(blobFile(root(), layer)), 'still there');
    const stray = Buffer.from('a stray blob');
    const { sha256Digest } = await import('../../src/oci/digest.js');
    const strayDigest = sha256Digest(stray);
    await writeFile(blobFile(root(), strayDigest), stray);
    const del = await cli(['--root', root(), 'content', 'rm', strayDigest]);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, `${strayDigest}\n`);
    const again = await cli(['--root', root(), 'content', 'rm', strayDigest]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /blob not in the store/);
  });
});

describe('images check', () => {
  test('an intact image is complete (columns as the reference), exit 0', async () => {
    const r = await cli(['--root', root(), 'images', 'check']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0]!, /^REF\s+TYPE\s+DIGEST\s+STATUS\s+SIZE\s+UNPACKED$/);
    assert.match(lines[1]!, new RegExp(`^${APP}\\s+application/vnd.oci.image.manifest.v1\\+json\\s+${img.manifestDigest}\\s+complete \\(4/4\\)\\s+\\S+ \\S+/\\S+ \\S+\\s+false$`));
    assert.equal((await cli(['--root', root(), 'images', 'check', '-q'])).stdout, '', 'not unpacked: not ready');
  });

  test('a corrupted blob: check and content get name it and exit 1; content rm --force then leaves it missing', async () => {
    const layer = img.layers[0]!.digest;
    const bytes = await readFile(blobFile(root(), layer));
    bytes.writeUInt8(bytes.readUInt8(10) ^ 0xff, 10);
    await writeFile(blobFile(root(), layer), bytes);
    const r = await cli(['--root', root(), 'images', 'check', '--json', 'app:1']);
    assert.equal(r.code, 1);
    const [c] = JSON.parse(r.stdout) as ImageCheck[];
    assert.equal(c!.status, 'corrupt');
    assert.deepEqual(c!.problems.map((p) => p.digest), [layer]);
    assert.match(c!.problems[0]!.problem, /^its sha256 is sha256:[0-9a-f]{64}$/);
    const table = await cli(['--root', root(), 'images', 'check']);
    assert.equal(table.code, 1);
    assert.match(table.stdout, /corrupt \(3\/4\)/);
    assert.match(table.stderr, new RegExp(`^${APP}: blob ${layer} is corrupt: its sha256 is sha256:`, 'm'));
    assert.match(table.stderr, new RegExp(`ctr-remote: check: 1 of 1 images broken, first ${APP}: blob ${layer} is corrupt`));
    const get = await cli(['--root', root(), 'content', 'get', layer]);
    assert.equal(get.code, 1);
    assert.equal(get.stdout, '', 'nothing of a corrupt blob is written');
    assert.match(get.stderr, new RegExp(`^ctr-remote: content get ${layer}: blob ${layer} in .* is corrupt: its sha256 is sha256:`));
    const forced = await cli(['--root', root(), 'content', 'rm', '--force', layer]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(forced.stderr, new RegExp(`warning: ${APP} now lack ${layer}`));
    const after = await cli(['--root', root(), 'images', 'check', '--json']);
    assert.equal(after.code, 1);
    const [c2] = JSON.parse(after.stdout) as ImageCheck[];
    assert.deepEqual([c2!.status, c2!.problems], ['incomplete', [{ digest: layer, problem: 'missing' }]]);
    // The image comes back whole from its source.
    assert.equal((await cli(['--root', root(), 'image', 'tag', `oci:${src}:app`, 'app:1'])).code, 0);
    assert.equal((await cli(['--root', root(), 'images', 'check'])).code, 0);
  });

  test('an unknown image is NotFound', async () => {
    const r = await cli(['--root', root(), 'images', 'check', 'nope:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /image docker.io\/library\/nope:1 not found/);
  });
});

describe('images label', () => {
  test('sets, removes and replaces labels, kept as annotations of the index.json entry', async () => {
    const set = await cli(['--root', root(), 'images', 'label', 'app:1', 'team=web', 'tier=1']);
    assert.equal(set.code, 0, set.stderr);
    assert.equal(set.stdout, 'team=web\ntier=1\n');
    const entry = (await storeIndex(root())).manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === APP);
    assert.deepEqual(entry?.annotations, { team: 'web', tier: '1', 'org.opencontainers.image.ref.name': APP });
    assert.equal((await cli(['--root', root(), 'i', 'label', 'app:1', 'tier='])).stdout, 'team=web\n');
    assert.equal((await cli(['--root', root(), 'i', 'label', 'app:1', '-r', 'x=y'])).stdout, 'x=y\n');
    assert.equal((await cli(['--root', root(), 'i', 'label', 'app:1'])).stdout, 'x=y\n');
    const bad = await cli(['--root', root(), 'i', 'label', 'app:1', 'novalue']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Expected KEY=VALUE, got "novalue"/);
    const name = await cli(['--root', root(), 'i', 'label', 'app:1', 'org.opencontainers.image.ref.name=x']);
    assert.equal(name.code, 1);
    assert.match(name.stderr, /is the image's name; use image tag to rename/);
    assert.equal((await cli(['--root', root(), 'i', 'label', 'nope:1', 'a=b'])).code, 1);
  });
});

describe('version', () => {
  test('prints the client version and says there is no server', async () => {
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
    const r = await cli(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`^Client:\\n  Version:  ${pkg.version.replace(/\./g, '\\.')}\\n  Node version: v\\d+`));
    assert.match(r.stdout, /\nServer:\n  none \(ctr-remote works without a daemon\)\n$/);
  });
});

describe('pull flags and content fetch (registry)', () => {
  test('pull --label --print-chainid: the labels are stored with the name, the chain ID printed', async () => {
    const r0 = freshRoot();
    const r = await cli(['--root', r0, 'image', 'pull', '--label', 'a=1', '--label', 'b=2', '--print-chainid', '--snapshotter', 'overlayfs', `${reg.host}/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    const chain = chainIds(img.config.rootfs.diff_ids).at(-1)!;
    assert.notEqual(chain, img.layers[1]!.diffId);
    assert.match(r.stdout, new RegExp(`\\nimage chain ID: ${chain}\\n$`));
    const entry = (await storeIndex(r0)).manifests[0]!;
    assert.deepEqual(entry.annotations, { a: '1', b: '2', 'org.opencontainers.image.ref.name': `${reg.host}/app:1` });
    const bad = await cli(['--root', r0, 'image', 'pull', '--snapshotter', 'zfs', `${reg.host}/app:1`]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--snapshotter <name>' argument 'zfs' is invalid. Expected overlayfs or stargz/);
  });

  test('content fetch --all-metadata: every platform\'s manifest and config, the layers of this host\'s only', async () => {
    const r0 = freshRoot();
    const r = await cli(['--root', r0, 'content', 'fetch', '--all-metadata', `${reg.host}/multi:1`]);
    assert.equal(r.code, 0, r.stderr);
    const have = new Set((await cli(['--root', r0, 'content', 'ls', '-q'])).stdout.trim().split('\n'));
    for (const d of [img.manifestDigest, img.configDigest, arm.manifestDigest, arm.configDigest, ...img.layers.map((l) => l.digest)]) assert.ok(have.has(d), d);
    assert.ok(!have.has(arm.layers[0]!.digest), 'the other platform\'s layer is not fetched');
    const check = await cli(['--root', r0, 'images', 'check', '--json']);
    assert.equal(check.code, 0, check.stderr);
    assert.equal((JSON.parse(check.stdout) as ImageCheck[])[0]!.status, 'complete');
    const armCheck = await cli(['--root', r0, 'images', 'check', '--platform', 'linux/arm64', '--json']);
    assert.equal(armCheck.code, 1);
    assert.deepEqual((JSON.parse(armCheck.stdout) as ImageCheck[])[0]!.problems, [{ digest: arm.layers[0]!.digest, problem: 'missing' }]);
  });

  test('content fetch --metadata-only stores no layer; the image checks incomplete until pulled', async () => {
    const r0 = freshRoot();
    const r = await cli(['--root', r0, 'content', 'fetch', '--metadata-only', `${reg.host}/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^fetched ${reg.host}/app:1 ${img.manifestDigest}`));
    const have = (await cli(['--root', r0, 'content', 'ls', '-q'])).stdout.trim().split('\n').sort();
    assert.deepEqual(have, [img.manifestDigest, img.configDigest].sort());
    assert.equal((await cli(['--root', r0, 'images', 'check'])).code, 1);
    assert.equal((await cli(['--root', r0, 'image', 'pull', `${reg.host}/app:1`])).code, 0);
    assert.equal((await cli(['--root', r0, 'images', 'check'])).code, 0);
  });

  test('an rpulled eStargz image: check says lazy (exit 0); its layers are lazy snapshots by chain ID, which rm and mounts refuse', async () => {
    const esgz = join(tmp, 'esgz');
    const conv = await cli(['--root', freshRoot(), 'image', 'convert', '--estargz', '--oci', `oci:${src}:app`, `oci:${esgz}:app`]);
    assert.equal(conv.code, 0, conv.stderr);
    execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${esgz}:app`, `docker://${reg.host}/esgz:1`]);
    const r0 = freshRoot();
    const pulled = await cli(['--root', r0, 'image', 'rpull', '--print-chainid', `${reg.host}/esgz:1`]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /: 2 of 2 layers lazy\n/);
    const check = await cli(['--root', r0, 'images', 'check']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /\slazy \(2\/4\)\s/);
    assert.equal((await cli(['--root', r0, 'images', 'check', '-q'])).stdout, `${reg.host}/esgz:1\n`, 'a lazy image is ready');
    const snaps = JSON.parse((await cli(['--root', r0, 'snapshots', 'ls', '--json'])).stdout) as RootSnapshot[];
    const top = /image chain ID: (\S+)/.exec(pulled.stdout)![1]!;
    const topSnap = snaps.find((x) => x.name === top);
    assert.deepEqual(snaps.map((x) => [x.kind, x.source]), [['committed', 'lazy'], ['committed', 'lazy']]);
    assert.ok(topSnap?.parent && snaps.some((x) => x.name === topSnap.parent && x.parent === undefined), JSON.stringify(snaps));
    assert.match(topSnap.labels['containerd.io/snapshot/stargz/toc.digest'] ?? '', /^sha256:[0-9a-f]{64}$/);
    const rmr = await cli(['--root', r0, 'snapshots', 'rm', top]);
    assert.equal(rmr.code, 1);
    assert.match(rmr.stderr, new RegExp(`snapshot ${top} is a lazy layer of ${reg.host}/esgz:1: it has no tree here to remove \\(image rm removes the image\\)`));
    const m = await cli(['--root', r0, 'snapshots', 'mounts', '/mnt', top]);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /is a lazy layer: it has no tree on disk/);
    const usage = await cli(['--root', r0, 'snapshots', 'usage', '-b']);
    assert.match(usage.stdout, new RegExp(`^${top}\\s+0\\s+0$`, 'm'));
  });

  test('rpull --label --print-chainid; rpull --snapshotter overlayfs is a usage error', async () => {
    const r0 = freshRoot();
    const r = await cli(['--root', r0, 'image', 'rpull', '--label', 'k=v', '--print-chainid', `${reg.host}/app:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`\\nimage chain ID: ${chainIds(img.config.rootfs.diff_ids).at(-1)!}\\n$`));
    assert.equal((await storeIndex(r0)).manifests[0]!.annotations?.['k'], 'v');
    const o = await cli(['--root', r0, 'image', 'rpull', '--snapshotter', 'overlayfs', `${reg.host}/app:1`]);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /rpull is a lazy pull, which only the stargz snapshotter serves; use image pull for overlayfs/);
  });
});

const notRoot = process.getuid?.() !== 0 ? 'needs root: overlayfs mounts and runc containers' : false;

describe('snapshots (real run, overlayfs)', { skip: notRoot }, () => {
  let r0 = '';
  let chain: string[] = [];
  const snaps = async () => {
    const r = await cli(['--root', r0, 'snapshots', 'ls', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as RootSnapshot[];
  };
  before(async () => {
    const layout = join(tmp, 'run-layout');
    await buildRunImage(layout);
    r0 = freshRoot();
    await tagImage(new Context(r0), `oci:${layout}:${FULL}`, FULL);
    chain = chainIds((await openStoredImage(new Context(r0), FULL)).config.rootfs.diff_ids);
    const run = await startCli(['--root', r0, 'run', '--snapshotter', 'overlayfs', FULL, 'kept', 'true']).done;
    assert.equal(run.code, 0, run.stderr);
  });
  after(async () => {
    for (const m of await mountsUnder(tmp)) await execa('umount', ['-l', m], { reject: false });
  });

  test('ls: the unpacked layers by chain ID, the stopped container on top (table, --json)', async () => {
    const all = await snaps();
    assert.deepEqual(all.map((s) => [s.name, s.parent, s.kind, s.source]), [
      ...chain.map((c, i) => [c, i ? chain[i - 1] : undefined, 'committed', 'unpacked']),
      ['kept', chain[1], 'active', 'container'],
    ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
    const table = (await cli(['--root', r0, 'snapshot', 'ls'])).stdout.split('\n');
    assert.match(table[0]!, /^KEY\s+PARENT\s+KIND\s+SOURCE$/);
    assert.ok(table.some((l) => new RegExp(`^kept\\s+${chain[1]}\\s+Active\\s+container$`).test(l)), table.join('\n'));
    const info = JSON.parse((await cli(['--root', r0, 'snapshots', 'info', chain[1]!])).stdout) as Record<string, unknown>;
    assert.deepEqual([info['Kind'], info['Name'], info['Parent'], info['Images']], ['Committed', chain[1], chain[0], [`docker.io/${FULL}`]]);
    assert.match(String(info['Created']), /^\d{4}-\d\d-\d\dT/);
    const nf = await cli(['--root', r0, 'snapshots', 'info', 'nope']);
    assert.equal(nf.code, 1);
    assert.equal(nf.stderr, 'ctr-remote: snapshots info nope: snapshot nope not found (snapshots ls lists them)\n');
  });

  test('usage: bytes and inodes of each own tree', async () => {
    const r = await cli(['--root', r0, 'snapshots', 'usage', '-b', chain[1]!]);
    assert.equal(r.code, 0, r.stderr);
    const [, row] = r.stdout.trim().split('\n');
    const [key, size, inodes] = row!.split(/\s+/);
    assert.equal(key, chain[1]);
    assert.ok(Number(size) >= 'hello from the image\n'.length + 'data v1\n'.length, size);
    assert.ok(Number(inodes) >= 6, inodes);
  });

  test('mounts prints a command that mounts the layer stack (checked by running it)', async () => {
    const target = join(tmp, 'mnt');
    await mkdir(target, { recursive: true });
    const r = await cli(['--root', r0, 'snapshots', 'mounts', target, chain[1]!]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^mount -t overlay overlay ${target} -o ro,nosuid,nodev,lowerdir=\\S+/sha256-[0-9a-f]{64}/fs:\\S+/sha256-[0-9a-f]{64}/fs\\n$`));
    await execa('sh', ['-c', r.stdout]);
    try {
      assert.equal(await readFile(join(target, 'etc/motd'), 'utf8'), 'hello from the image\n');
      const line = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').find((l) => l.split(' ')[4] === target) ?? '';
      assert.match(line.split(' ')[5] ?? '', /(^|,)nosuid(,|$)/, line);
      assert.match(line.split(' ')[5] ?? '', /(^|,)nodev(,|$)/, line);
      assert.ok((await stat(join(target, 'bin/busybox'))).isFile(), 'the base layer is below');
    } finally {
      await execa('umount', [target]);
    }
    assert.match((await cli(['--root', r0, 'snapshots', 'mounts', target, chain[0]!])).stdout, /^mount -t bind \S+\/fs \S+ -o ro,rbind,nosuid,nodev\n$/);
    assert.match((await cli(['--root', r0, 'snapshots', 'm', target, 'kept'])).stdout, /^mount -t overlay overlay \S+ -o nosuid,nodev,lowerdir=\S+:\S+,upperdir=\S+\/containers\/kept\/upper,workdir=\S+\/containers\/kept\/work\n$/);
  });

  test('rm refuses a snapshot with children and one a running container uses; removes them top down', async () => {
    const live = startCli(['--root', r0, 'run', '--rm', FULL, 'live', 'sh', '-c', 'echo ready; sleep 60']);
    try {
      await live.line('ready');
      const inUse = await cli(['--root', r0, 'snapshots', 'rm', 'live']);
      assert.equal(inUse.code, 1);
      assert.equal(inUse.stderr, 'ctr-remote: snapshots rm live: snapshot live is in use by container live\n');
      const base = await cli(['--root', r0, 'snapshots', 'rm', chain[0]!]);
      assert.equal(base.code, 1);
      assert.match(base.stderr, new RegExp(`snapshot ${chain[0]} has children: ${chain[1]} \\(remove them first\\)`));
      const top = await cli(['--root', r0, 'snapshots', 'rm', chain[1]!]);
      assert.match(top.stderr, /has children: kept, live \(remove them first\)/);
    } finally {
      live.proc.kill('SIGTERM');
      await live.exited;
    }
    const partial = await cli(['--root', r0, 'snapshots', 'rm', 'kept', chain[0]!]);
    assert.equal(partial.code, 1);
    assert.equal(partial.stdout, 'kept\n', 'what was removed before the refusal is printed');
    assert.match(partial.stderr, new RegExp(`snapshot ${chain[0]} has children: ${chain[1]} `));
    const r = await cli(['--root', r0, 'snapshots', 'rm', chain[1]!, chain[0]!]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${chain[1]}\n${chain[0]}\n`);
    assert.deepEqual(await snaps(), []);
    assert.equal(await stat(join(r0, 'containers', 'kept')).then(() => true, () => false), false, 'the container directory is gone');
  });
});

describe('image mount --rw and --snapshotter (real overlayfs)', { skip: notRoot }, () => {
  test('--rw: writes land in the mount\'s own upper dir, the image stays as it was, and they are gone after unmount', async () => {
    const layout = join(tmp, 'run-layout');
    await buildRunImage(layout);
    const r0 = freshRoot();
    await tagImage(new Context(r0), `oci:${layout}:${FULL}`, FULL);
    const target = join(tmp, 'rw-mnt');
    const m = startCli(['--root', r0, 'image', 'mount', '--rw', '--snapshotter', 'overlayfs', FULL, target]);
    try {
      await m.line('writable, writes discarded at unmount');
      assert.equal(await readFile(join(target, 'etc/motd'), 'utf8'), 'hello from the image\n');
      await writeFile(join(target, 'etc/motd'), 'changed\n');
      await writeFile(join(target, 'new.txt'), 'new\n');
      assert.equal(await readFile(join(target, 'etc/motd'), 'utf8'), 'changed\n');
      const layerFile = (await snapshotsDirs(r0)).map((d) => join(d, 'fs', 'etc/motd'));
      const contents = await Promise.all(layerFile.map((f) => readFile(f, 'utf8').catch(() => undefined)));
      assert.deepEqual(contents.filter((c) => c !== undefined), ['hello from the image\n'], 'the unpacked layer is untouched');
    } finally {
      const u = await cli(['--root', r0, 'image', 'unmount', target]);
      assert.equal(u.code, 0, u.stderr);
      await m.exited;
    }
    assert.equal(await stat(join(target, 'new.txt')).then(() => true, () => false), false);
    const ro = startCli(['--root', r0, 'image', 'mount', FULL, target]);
    try {
      await ro.line('mounted');
      await assert.rejects(writeFile(join(target, 'new.txt'), 'x'), /EROFS/);
    } finally {
      await cli(['--root', r0, 'image', 'unmount', target]);
      await ro.exited;
    }
  });
});

async function snapshotsDirs(root: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(join(root, 'snapshots'))).filter((n) => n.startsWith('sha256-')).map((n) => join(root, 'snapshots', n));
}
