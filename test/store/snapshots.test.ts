// The snapshots directory: holds of live processes (another process, as `run` or `image mount` would be)
// keep a snapshot from being deleted; holds, unpack temps and trash of dead processes are ignored and
// removed by the next command that opens the store; deletion renames to trash before removing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownedName } from '../../src/host/owned-names.js';
import { processStartTime } from '../../src/host/process-owner.js';
import { openStore } from '../../src/store/image-store.js';
import { holdSnapshot, listSnapshots, liveHolds, removeSnapshots, snapshotDir } from '../../src/store/snapshots.js';
import { kill, ready, startChild } from './child.js';
import { RootLayout } from '../../src/store/root-layout.js';

let tmp: string;
let roots = 0;
before(async () => (tmp = await mkdtemp(join(tmpdir(), 'store-snapshots-'))));
after(async () => rm(tmp, { recursive: true, force: true }));

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const deadOwner = () => `${process.pid}.${Number(processStartTime(process.pid)) + 1}`;

async function rootWithSnapshots(...digests: string[]): Promise<string> {
  const root = join(tmp, `root-${roots++}`);
  for (const d of digests) {
    await mkdir(join(snapshotDir(new RootLayout(root), d), 'fs', 'etc'), { recursive: true });
    await writeFile(join(snapshotDir(new RootLayout(root), d), 'fs', 'etc', 'file'), Buffer.alloc(1000 + Number(d.at(-1))));
  }
  return root;
}

describe('snapshots', () => {
  test('a snapshot held by another live process is kept; after it dies its hold no longer counts', async () => {
    const root = await rootWithSnapshots(D1, D2);
    const child = startChild(['hold-snapshot', root, D1]);
    await ready(child);
    try {
      assert.deepEqual([...(await liveHolds(new RootLayout(root)))], [[D1, [String(child.pid)]]]);
      const removed = await removeSnapshots(new RootLayout(root), [D1, D2]);
      assert.deepEqual(removed, [{ digest: D2, bytes: 1002 }]);
      assert.deepEqual(await listSnapshots(new RootLayout(root)), [D1]);
      assert.deepEqual((await readdir(new RootLayout(root).snapshots)).filter((n) => n.startsWith('.trash-')), [], 'the trash is emptied');
    } finally {
      await kill(child);
    }
    assert.equal((await liveHolds(new RootLayout(root))).size, 0);
    assert.deepEqual(await removeSnapshots(new RootLayout(root), [D1]), [{ digest: D1, bytes: 1001 }]);
    assert.deepEqual(await listSnapshots(new RootLayout(root)), []);
  });

  test("this process's holds count until released; a dry run deletes nothing", async () => {
    const root = await rootWithSnapshots(D1);
    const release = await holdSnapshot(new RootLayout(root), D1);
    const again = await holdSnapshot(new RootLayout(root), D1);
    assert.deepEqual(await removeSnapshots(new RootLayout(root), [D1]), []);
    await release();
    assert.deepEqual(await removeSnapshots(new RootLayout(root), [D1]), [], 'still held once');
    await again();
    assert.deepEqual(await removeSnapshots(new RootLayout(root), [D1], { dryRun: true }), [{ digest: D1, bytes: 1001 }]);
    assert.deepEqual(await listSnapshots(new RootLayout(root)), [D1]);
    assert.deepEqual(await removeSnapshots(new RootLayout(root), [D1]), [{ digest: D1, bytes: 1001 }]);
  });

  test("opening the store removes dead processes' unpack temps, holds and trash, and nothing of live ones", async () => {
    const root = await rootWithSnapshots(D1);
    const dir = new RootLayout(root).snapshots;
    const dead = deadOwner();
    for (const name of [`tmp-${dead}-aa`, `.trash-${dead}-bb`]) {
      await mkdir(join(dir, name, 'fs'), { recursive: true });
      await writeFile(join(dir, name, 'fs', 'half'), Buffer.alloc(5000));
    }
    await writeFile(join(dir, `.hold-${dead}-${'1'.repeat(64)}`), '');
    const live = ownedName('tmp-');
    await mkdir(join(dir, live));
    await openStore(new RootLayout(root));
    assert.deepEqual((await readdir(dir)).filter((n) => n !== '.lock').sort(), [live, `sha256-${'1'.repeat(64)}`].sort());
    assert.ok((await stat(join(dir, live))).isDirectory());
  });
});
