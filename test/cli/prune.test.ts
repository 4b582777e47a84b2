// `image prune` and start-up cleanup through the real CLI: a killed pull's partial ingest file is removed
// by the next pull (it used to be kept forever), a killed convert's spool dir and the blobs it stored
// unnamed are freed by prune, which reports what it freed (--json too) and removes nothing with --dry-run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { PruneResult } from '../../src/image/copy/prune.js';
import { buildImage, type BuiltImage } from '../fixtures/image-builder.js';
import { startFaultProxy, type FaultProxy } from '../fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../fixtures/registry.js';
import { cli, spawnCli } from './cli-harness.js';

let tmp: string;
let src: string;
let reg: RegistryFixture;
let proxy: FaultProxy;
let big: BuiltImage;
let roots = 0;
const freshRoot = () => join(tmp, `root-${roots++}`);

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'cli-prune-'));
  src = join(tmp, 'src');
  big = await buildImage(src, 'big', { layers: [0, 1].map((i) => ({ entries: [{ path: `r${i}.bin`, type: 'file' as const, content: randomBytes(12 << 20) }] })) });
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${src}:big`, `docker://${reg.host}/big:1`]);
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(tmp, { recursive: true, force: true });
});

const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);
const prune = async (root: string, ...flags: string[]) => {
  const r = await cli(['--root', root, 'image', 'prune', '--json', ...flags]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PruneResult;
};

async function until(child: ChildProcess, ready: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!(await ready())) {
    assert.ok(child.exitCode === null && Date.now() < deadline, `${what} before the process ended`);
    await sleep(10);
  }
}

async function killed(child: ChildProcess): Promise<void> {
  const closed = new Promise((resolve) => child.on('close', resolve));
  child.kill('SIGKILL');
  await closed;
}

describe('leftovers of killed commands', () => {
  /** Start a pull of big:1 through a slow link and SIGKILL it mid-layer; returns the root and the partial file. */
  async function killedPull(): Promise<{ root: string; ingest: string; partial: string; size: number; pid: number }> {
    const root = freshRoot();
    const layer = big.layers[0]!.digest;
    const slow = proxy.addRule({ method: 'GET', path: new RegExp(`/blobs/${layer}`), bytesPerSec: 2 << 20 });
    proxy.stats.reset();
    const child = spawnCli(['--root', root, 'image', 'pull', `${proxy.host}/big:1`]);
    try {
      await until(child, async () => (proxy.stats.bytesByPath.get(`/v2/big/blobs/${layer}`) ?? 0) > 1 << 20, 'the layer download started');
    } finally {
      await killed(child);
      proxy.removeRule(slow);
    }
    const ingest = join(root, 'store', 'ingest');
    const partial = (await entries(ingest)).find((n) => n.startsWith('.ingest-'));
    assert.ok(partial, 'the killed pull left a partial ingest file');
    const size = (await stat(join(ingest, partial)).catch(() => undefined))?.size ?? 0;
    assert.ok(size > 0);
    return { root, ingest, partial, size, pid: child.pid! };
  }

  test("a SIGKILLed pull's partial ingest file is removed by the next pull (not kept forever)", async () => {
    const { root, ingest, partial, pid } = await killedPull();
    assert.match(partial, new RegExp(`^\\.ingest-${pid}\\.\\d+-`), 'named for its owner: pid and start time');
    const r = await cli(['--root', root, 'image', 'pull', `${reg.host}/big:1`]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await entries(ingest), [], "the dead pull's partial file is gone after the next pull");
  });

  test("prune --dry-run reports a killed pull's partial file with its size and removes nothing; prune removes it", async () => {
    const { root, ingest, partial, size } = await killedPull();
    const dry = await prune(root, '--dry-run');
    assert.equal(dry.dryRun, true);
    assert.ok(dry.leftovers.removed.some((l) => l.path === join(ingest, partial) && l.bytes === size), JSON.stringify(dry.leftovers));
    assert.ok(dry.freedBytes >= size);
    assert.ok((await entries(ingest)).includes(partial), 'a dry run removes nothing');
    const real = await prune(root);
    assert.ok(real.leftovers.removed.some((l) => l.path === join(ingest, partial)));
    assert.deepEqual((await entries(ingest)).filter((n) => n.startsWith('.ingest-')), []);
  });

  test('a SIGKILLed convert into the store: prune frees its spool dir and the layer blob it stored unnamed', async () => {
    const root = freshRoot();
    assert.equal((await cli(['--root', root, 'image', 'tag', `oci:${src}:big`, 'local/big:1'])).code, 0);
    const before = new Set(await entries(join(root, 'store', 'blobs', 'sha256')));
    const child = spawnCli(['--root', root, 'image', 'convert', '--estargz', '--oci', 'local/big:1', 'local/big:esgz']);
    try {
      // The first converted layer is stored, the second one is being spooled: a spool dir other than the
      // first layer's (which stays a moment after its blob is stored, while it is removed).
      const first = new Set<string>();
      await until(child, async () => {
        const stored = (await entries(join(root, 'store', 'blobs', 'sha256'))).length > before.size;
        const spools = await entries(join(root, 'tmp'));
        if (!stored) spools.forEach((s) => first.add(s));
        return stored && spools.some((s) => !first.has(s));
      }, 'a layer was stored');
    } finally {
      await killed(child);
    }
    const orphans = (await entries(join(root, 'store', 'blobs', 'sha256'))).filter((b) => !before.has(b));
    assert.equal(orphans.length, 1);
    const spools = await entries(join(root, 'tmp'));
    assert.equal(spools.length, 1);
    const r = await prune(root);
    assert.equal(r.dryRun, false);
    assert.deepEqual(r.blobs.removed.map((b) => b.digest), [`sha256:${orphans[0]}`]);
    assert.ok(r.leftovers.removed.some((l) => l.path === join(root, 'tmp', spools[0]!)));
    assert.equal(r.freedBytes, r.blobs.bytes + r.snapshots.bytes + r.leftovers.bytes);
    assert.deepEqual(await entries(join(root, 'tmp')), []);
    assert.deepEqual(new Set(await entries(join(root, 'store', 'blobs', 'sha256'))), before, 'the named image keeps all its blobs');
    const human = await cli(['--root', root, 'image', 'prune']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /^removed 0 unreferenced blobs \(0 B\)\nremoved 0 unused snapshots \(0 B\)\nremoved 0 leftovers of dead processes \(0 B\)\nfreed 0 B\n$/);
  });
});
