// `image convert` through the real CLI process when its input is bad or it is interrupted: a corrupt blob
// in the store or from the registry, SIGINT at several points of a conversion, SIGKILL. Each ends with one
// line on stderr and exit 1 (130 for SIGINT), and leaves no temp dir and no unnamed blob behind.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, cliProcess, spawnCli } from './cli-harness.js';

let tmp: string;
let src: string;
let reg: RegistryFixture;
let proxy: FaultProxy;
let app: BuiltImage;
let big: BuiltImage;
/** TMPDIR of the spawned CLIs: convert must not leave anything there either. */
let osTmp: string;
let roots = 0;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-convert-faults-'));
  osTmp = join(tmp, 'os-tmp');
  execFileSync('mkdir', ['-p', osTmp]);
  src = join(tmp, 'src');
  app = await buildImage(src, 'app', {
    layers: [{ entries: [{ path: 'a.bin', type: 'file', content: randomBytes(300_000) }] }, { entries: [{ path: 'b.bin', type: 'file', content: randomBytes(200_000) }] }],
  });
  // Large enough (3 × 24 MiB of incompressible data, ~1 s per layer at level 9) to interrupt at chosen points.
  big = await buildImage(src, 'big', { layers: [0, 1, 2].map((i) => ({ entries: [{ path: `r${i}.bin`, type: 'file' as const, content: randomBytes(24 << 20) }] })) });
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${src}:app`, `docker://${reg.host}/app:1`]);
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const env = () => ({ ...process.env, TMPDIR: osTmp });
const blobs = async (root: string) => new Set(await readdir(join(root, 'store', 'blobs', 'sha256')));
const entries = async (dir: string) => readdir(dir).catch(() => [] as string[]);

/** A fresh root holding `image` as local/<name>:1. */
async function rootWith(image: BuiltImage): Promise<string> {
  const root = join(tmp, `root-${roots++}`);
  const r = await cli(['--root', root, 'image', 'tag', `oci:${src}:${image.name}`, `local/${image.name}:1`]);
  assert.equal(r.code, 0, r.stderr);
  return root;
}

function flipStoreByte(root: string, digest: string, offset: number): Promise<void> {
  return (async () => {
    const fh = await open(join(root, 'store', 'blobs', 'sha256', digest.slice(7)), 'r+');
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, offset);
      b[0] = b[0]! ^ 0xff;
      await fh.write(b, 0, 1, offset);
    } finally {
      await fh.close();
    }
  })();
}

/** The state a failed convert must leave: no temp dirs (root's or $TMPDIR's), no ingest files, no new blobs. */
async function assertNothingLeft(root: string, blobsBefore: Set<string>): Promise<void> {
  assert.deepEqual(await entries(join(root, 'tmp')), [], 'no convert temp dir in <root>/tmp');
  assert.deepEqual((await entries(osTmp)).filter((n) => n.startsWith('ctr-remote')), [], 'no convert temp dir in $TMPDIR');
  assert.deepEqual(await entries(join(root, 'store', 'ingest')), [], 'no ingest file or lease');
  assert.deepEqual([...(await blobs(root))].filter((b) => !blobsBefore.has(b)), [], 'no unnamed blob left in the store');
}

function assertOneLine(stderr: string, pattern: RegExp): void {
  assert.doesNotMatch(stderr, /Unhandled|DOMException|^\s+at /m, `no crash or stack trace:\n${stderr}`);
  assert.equal(stderr.split('\n').length, 2, `one line:\n${stderr}`);
  assert.match(stderr.trimEnd(), pattern);
}

describe('convert with bad input', () => {
  test('a same-size blob with a flipped byte in the store: one line, exit 1, nothing left', async () => {
    const root = await rootWith(app);
    await flipStoreByte(root, app.layers[1]!.digest, 100);
    const before = await blobs(root);
    const r = await cliProcess(['--root', root, 'image', 'convert', '--estargz', '--oci', 'local/app:1', 'local/app:esgz'], env());
    assert.equal(r.code, 1, r.stderr);
    assertOneLine(r.stderr, new RegExp(`^ctr-remote: convert local/app:1: .*${app.layers[1]!.digest}.*wrong content`));
    await assertNothingLeft(root, before);
    assert.equal((await cli(['--root', root, 'image', 'ls', '-q'])).stdout, 'docker.io/local/app:1\n', 'no image named');
  });

  test('a layer corrupted by the registry connection: one line, exit 1, nothing left', async () => {
    const root = join(tmp, `root-${roots++}`);
    const rule = proxy.addRule({ method: 'GET', path: new RegExp(`/blobs/${app.layers[1]!.digest}`), flipByteAt: 1000 });
    try {
      const r = await cliProcess(['--root', root, 'image', 'convert', '--estargz', '--oci', `${proxy.host}/app:1`, 'local/conv:1'], env());
      assert.equal(r.code, 1, r.stderr);
      assertOneLine(r.stderr, new RegExp(`^ctr-remote: convert ${proxy.host}/app:1: .*${app.layers[1]!.digest}.*wrong content`));
      assert.ok(rule.hits > 0);
    } finally {
      proxy.removeRule(rule);
    }
    await assertNothingLeft(root, new Set());
  });
});

/** Poll until `ready()` holds (or the child exits, or 60 s pass); true when it held while the child ran. */
async function when(child: ChildProcess, ready: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + 60_000;
  while (child.exitCode === null && child.signalCode === null && Date.now() < deadline) {
    if (await ready()) return true;
    await sleep(5);
  }
  return false;
}

/** Size of the file `name` inside the convert temp dir (under `<root>/tmp`, or $TMPDIR where older code put it), 0 when absent. */
async function spoolSize(root: string, name: 'layer.tar' | 'layer.out'): Promise<number> {
  for (const parent of [join(root, 'tmp'), osTmp]) {
    const dir = (await entries(parent)).find((n) => n.startsWith('ctr-remote-convert-'));
    if (dir) return (await stat(join(parent, dir, name)).catch(() => undefined))?.size ?? 0;
  }
  return 0;
}

describe('convert interrupted', () => {
  let root: string;
  let original: Set<string>;
  before(async () => {
    root = await rootWith(big);
    original = await blobs(root);
  });

  // SIGINT is a race with the conversion's own progress: interrupt at several observable points.
  const points: [string, () => Promise<boolean>][] = [
    ['while the first layer is decompressed to the spool', async () => (await spoolSize(root, 'layer.tar')) > 1 << 20],
    ['while the first layer is compressed', async () => (await spoolSize(root, 'layer.out')) > 1 << 20],
    ['right after the first converted layer is stored', async () => (await blobs(root)).size > original.size],
    ['while a later layer is compressed', async () => (await blobs(root)).size > original.size && (await spoolSize(root, 'layer.out')) > 0],
  ];
  for (const [name, ready] of points) {
    test(`SIGINT ${name}: exit 130, one line, no temp dir and no unnamed blob`, async () => {
      const child = spawnCli(['--root', root, 'image', 'convert', '--estargz', '--oci', 'local/big:1', 'local/big:esgz'], env());
      let stderr = '';
      child.stderr!.on('data', (c) => (stderr += String(c)));
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        assert.ok(await when(child, ready), `the conversion reached the point before it ended (stderr: ${stderr})`);
        child.kill('SIGINT');
        assert.equal(await closed, 130, stderr);
      } finally {
        child.kill('SIGKILL');
      }
      assertOneLine(stderr, /^ctr-remote: convert local\/big:1: (.*: )?aborted$/);
      await assertNothingLeft(root, original);
      assert.equal((await cli(['--root', root, 'image', 'ls', '-q'])).stdout, 'docker.io/local/big:1\n');
    });
  }

  test('a SIGKILLed convert leaves its temp dir under <root>/tmp, named for its dead owner; the next convert removes it', async () => {
    const child = spawnCli(['--root', root, 'image', 'convert', '--estargz', '--oci', 'local/big:1', 'local/big:esgz'], env());
    const closed = new Promise((resolve) => child.on('close', resolve));
    try {
      assert.ok(await when(child, async () => (await spoolSize(root, 'layer.tar')) > 1 << 20), 'the spool was being written');
    } finally {
      child.kill('SIGKILL');
      await closed;
    }
    const left = await entries(join(root, 'tmp'));
    assert.equal(left.length, 1);
    assert.match(left[0]!, new RegExp(`^ctr-remote-convert-${child.pid}\\.\\d+-`), 'the dir names its owner (pid and start time)');
    const small = await cli(['--root', root, 'image', 'tag', `oci:${src}:app`, 'local/app:1']);
    assert.equal(small.code, 0, small.stderr);
    const r = await cliProcess(['--root', root, 'image', 'convert', '--estargz', '--oci', 'local/app:1', 'local/app:esgz'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await entries(join(root, 'tmp')), [], "the dead convert's temp dir is gone");
  });
});
