// --hosts-dir (containerd's hosts.toml) through the CLI and the lazy read path, against a real registry
// behind two fault proxies: one is the origin (the registry the references name), the other its mirror.
// Pulls and lazy reads (rpull's TOC, a mounted layer's Range reads) go to the mirror, each host gets its
// own headers, a mirror that is down or lacks a blob falls through to the origin, and a bad hosts.toml is
// one error line naming the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Context } from '../../src/image/context.js';
import { mountImage, type MountedImage } from '../../src/image/lazy/mount.js';
import { buildImage } from '../fixtures/image-builder.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { freePort, startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, type CliRun } from './cli-harness.js';

const rootSkip = process.getuid?.() !== 0 ? 'needs root: image mount uses FUSE and overlayfs' : false;

let tmp: string;
let reg: RegistryFixture;
let origin: FaultProxy;
let mirror: FaultProxy;
let hostsDir: string;
const big = randomBytes(3 << 20);
/** The value of our test headers per request, as each proxy saw them. */
const seen: { origin: { path: string; token: string | undefined }[]; mirror: { path: string; token: string | undefined }[] } = { origin: [], mirror: [] };
let roots = 0;
const root = () => join(tmp, `root-${roots++}`);
const ok = (r: CliRun) => assert.equal(r.code, 0, r.stderr);
/** GET requests for blobs a proxy answered, and the Range ones among them. */
const blobGets = (p: FaultProxy) => p.stats.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));

/** Write the hosts.toml of the origin: `mirrorUrl` as its mirror (with a header), a header for the origin. */
async function writeHosts(mirrorUrl: string, extra = ''): Promise<void> {
  await writeFile(join(hostsDir, origin.host, 'hosts.toml'), [
    '[header]',
    '  X-Test-Token = "origin-1"',
    '',
    `[host."${mirrorUrl}"]`,
    '  capabilities = ["pull", "resolve"]',
    extra,
    `  [host."${mirrorUrl}".header]`,
    '    X-Test-Token = "mirror-1"',
    '',
  ].join('\n'));
}

function resetStats(): void {
  origin.stats.reset();
  mirror.stats.reset();
  seen.origin.length = 0;
  seen.mirror.length = 0;
}

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-hosts-'));
  reg = await startRegistry();
  [origin, mirror] = await Promise.all([startFaultProxy(reg.url), startFaultProxy(reg.url)]);
  const note = (list: typeof seen.origin) => (_: number, req: IncomingMessage) => {
    list.push({ path: req.url ?? '', token: req.headers['x-test-token'] as string | undefined });
    return false;
  };
  origin.addRule({ when: note(seen.origin) });
  mirror.addRule({ when: note(seen.mirror) });
  const layout = join(tmp, 'layout');
  await buildImage(layout, 'app', {
    layers: [{ entries: [{ path: 'etc/small.txt', type: 'file', content: 'small file\n' }, { path: 'data/big.bin', type: 'file', content: big }] }],
  });
  const esgz = join(tmp, 'esgz');
  ok(await cli(['--root', root(), 'image', 'convert', '--estargz', '--oci', `oci:${layout}:app`, `oci:${esgz}:app`]));
  ok(await cli(['--root', root(), 'image', 'push', `${reg.host}/app:1`, `oci:${layout}:app`]));
  ok(await cli(['--root', root(), 'image', 'push', `${reg.host}/esgz:1`, `oci:${esgz}:app`]));
  hostsDir = join(tmp, 'certs.d');
  await mkdir(join(hostsDir, origin.host), { recursive: true });
});
after(async () => {
  await Promise.all([origin?.stop(), mirror?.stop()]);
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe('hosts.toml mirrors', () => {
  test('pull reads manifest and blobs from the mirror, with the mirror\'s header; the origin is not asked', async () => {
    await writeHosts(`http://${mirror.host}`);
    resetStats();
    ok(await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hostsDir, `${origin.host}/app:1`]));
    assert.equal(origin.stats.requests.length, 0, JSON.stringify(origin.stats.requests));
    assert.ok(mirror.stats.requests.some((r) => r.path.startsWith('/v2/app/manifests/')));
    assert.ok(mirror.stats.totalBytes > big.length / 2, `the mirror sent ${mirror.stats.totalBytes} bytes`);
    assert.ok(seen.mirror.length > 0 && seen.mirror.every((s) => s.token === 'mirror-1'), JSON.stringify(seen.mirror));
  });

  test('a mirror that is down: the pull reads from the origin, which gets the origin\'s header', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    await writeHosts(`http://${dead}`);
    resetStats();
    const r = await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hostsDir, `${origin.host}/app:1`]);
    ok(r);
    assert.match(r.stderr, new RegExp(`^ctr-remote: warning: mirror ${dead} failed, reading from the next host: .*ECONNREFUSED`, 'm'));
    assert.ok(blobGets(origin).length >= 2, 'config and layer from the origin');
    assert.ok(origin.stats.totalBytes > big.length / 2);
    assert.ok(seen.origin.length > 0 && seen.origin.every((s) => s.token === 'origin-1'), JSON.stringify(seen.origin));
  });

  test('a mirror without the blobs (404): manifests from the mirror, blobs from the origin', async () => {
    await writeHosts(`http://${mirror.host}`);
    resetStats();
    const missing = mirror.addRule({ path: /\/blobs\//, status: 404, statusBody: '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}' });
    try {
      ok(await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hostsDir, `${origin.host}/app:1`]));
    } finally {
      mirror.removeRule(missing);
    }
    assert.ok(missing.hits >= 1);
    assert.ok(mirror.stats.requests.some((r) => r.path.includes('/manifests/') && r.status === 200));
    assert.ok(blobGets(origin).length >= 1 && origin.stats.totalBytes > big.length / 2);
  });

  test('credentials given for the origin (-u) never reach a mirror: a mirror that asks for them is passed over', async () => {
    await writeHosts(`http://${mirror.host}`);
    resetStats();
    const authSeen: string[] = [];
    const asks = mirror.addRule({
      when: (_n, req) => {
        if (req.headers.authorization) authSeen.push(req.headers.authorization);
        return true;
      },
      status: 401,
      statusBody: '{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
      headers: { 'www-authenticate': 'Basic realm="mirror"' },
    });
    try {
      ok(await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hostsDir, '-u', 'alice:origin-secret', `${origin.host}/app:1`]));
    } finally {
      mirror.removeRule(asks);
    }
    assert.ok(asks.hits >= 1, 'the mirror was asked first');
    assert.deepEqual(authSeen, [], 'no Authorization header went to the mirror');
    assert.ok(blobGets(origin).length >= 1, 'the origin served the pull');
  });

  test('rpull fetches the eStargz TOC by Range from the mirror', async () => {
    await writeHosts(`http://${mirror.host}`);
    resetStats();
    const r = await cli(['--root', root(), 'image', 'rpull', '--json', '--hosts-dir', hostsDir, `${origin.host}/esgz:1`]);
    ok(r);
    assert.deepEqual((JSON.parse(r.stdout) as { layers: { mode: string }[] }).layers.map((l) => l.mode), ['lazy']);
    assert.ok(blobGets(mirror).some((q) => q.range !== undefined), JSON.stringify(mirror.stats.requests));
    assert.equal(origin.stats.requests.length, 0);
  });

  test('a lazy mount reads file ranges through the mirror, and from the origin once the mirror fails', { skip: rootSkip }, async () => {
    await writeHosts(`http://${mirror.host}`);
    const where = root();
    const mnt = join(tmp, 'mnt');
    await mkdir(mnt, { recursive: true });
    let mounted: MountedImage | undefined;
    try {
      mounted = await mountImage(new Context(where), `${origin.host}/esgz:1`, mnt, { registry: { hostsDir }, noBackgroundFetch: true });
      resetStats();
      assert.equal(await readFile(join(mnt, 'etc/small.txt'), 'utf8'), 'small file\n');
      assert.ok(blobGets(mirror).some((q) => q.range !== undefined), 'a Range read through the mirror');
      assert.equal(origin.stats.requests.length, 0);
      const down = mirror.addRule({ path: /\/blobs\//, status: 503 });
      try {
        assert.ok((await readFile(join(mnt, 'data/big.bin'))).equals(big));
      } finally {
        mirror.removeRule(down);
      }
      assert.ok(down.hits >= 1, 'the mirror was tried');
      assert.ok(blobGets(origin).some((q) => q.range !== undefined && q.status === 206), 'the origin served the ranges');
    } finally {
      await mounted?.unmount();
    }
  });
});

describe('bad hosts configuration', () => {
  test('a hosts.toml that is not valid is one error line naming the file', async () => {
    const file = join(hostsDir, origin.host, 'hosts.toml');
    for (const [text, why] of [
      ['[host."http://x"\n', /not valid TOML/],
      ['[host."http://x"]\nclient = 5\n', /client must be a path/],
      ['ca = "no-such-ca.pem"\n', /ca .*no-such-ca\.pem of .*cannot read it/],
    ] as const) {
      await writeFile(file, text);
      const r = await cli(['--root', root(), 'image', 'pull', '--hosts-dir', hostsDir, `${origin.host}/app:1`]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
      assert.ok(r.stderr.includes(`hosts file ${file}: `), r.stderr);
      assert.match(r.stderr, why);
    }
  });

  test('--hosts-dir that is not a directory is an error naming it', async () => {
    const r = await cli(['--root', root(), 'image', 'pull', '--hosts-dir', join(tmp, 'nope'), `${origin.host}/app:1`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /--hosts-dir .*nope: no such directory/);
  });
});
