// Which snapshots prune may delete: the pure plan, and what it is told about users (containers with a live
// owner, image mounts with a live server) read from the records other processes write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ownerOf, processStartTime } from '../../src/host/process-owner.js';
import { writeMountRecord } from '../../src/image/lazy/mount-record.js';
import { planSnapshotPrune } from '../../src/image/copy/prune-plan.js';
import { snapshotUsers } from '../../src/image/lazy/snapshot-users.js';
import { containerPaths } from '../../src/runtime/container-paths.js';
import { snapshotDir } from '../../src/store/snapshots.js';
import { RootLayout } from '../../src/store/root-layout.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('planSnapshotPrune', () => {
  test('removes unreferenced unused snapshots, keeps referenced ones silently and used ones with their users', () => {
    const plan = planSnapshotPrune({
      snapshots: [D('3'), D('1'), D('2'), D('4')],
      referenced: new Set([D('1')]),
      users: new Map([[D('2'), ['container web']], [D('1'), ['container db']], [D('4'), []]]),
    });
    assert.deepEqual(plan, { remove: [D('3'), D('4')], inUse: [{ digest: D('2'), usedBy: ['container web'] }] });
  });
});

describe('snapshotUsers', () => {
  let tmp: string;
  let sleeper: ChildProcess;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'snapshot-users-'));
    sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
    await once(sleeper, 'spawn');
  });
  after(async () => {
    sleeper.kill('SIGKILL');
    await rm(tmp, { recursive: true, force: true });
  });

  test('containers and image mounts count only while their owner runs (pid and start time)', async () => {
    const root = join(tmp, 'root');
    const pid = sleeper.pid!;
    const start = processStartTime(pid)!;
    const container = async (id: string, startTime: string, layers: string[]) => {
      const paths = containerPaths(new RootLayout(root), id);
      await mkdir(join(paths.dir, 'l'), { recursive: true });
      await writeFile(paths.owner, JSON.stringify({ pid, startTime, remove: true, ref: 'x' }));
      for (const [i, d] of layers.entries()) await symlink(join(snapshotDir(new RootLayout(root), d), 'fs'), join(paths.dir, 'l', String(i)));
    };
    await container('h9s-live', start, [D('a'), D('b')]);
    await container('h9s-reused-pid', String(Number(start) + 1), [D('c')]);
    const mount = (id: string, owner: string, digest: string) =>
      writeMountRecord(new RootLayout(root), {
        id, dir: join(tmp, `mnt-${id}`), name: 'img', manifestDigest: D('f'), pid, owner, startedAt: '',
        layers: [{ index: 0, digest, mode: 'full', dir: join(snapshotDir(new RootLayout(root), digest), 'fs') }, { index: 1, digest: D('e'), mode: 'lazy', dir: '/x' }],
      });
    await mount('m1', ownerOf(pid)!, D('d'));
    await mount('m2', `${pid}.${Number(start) + 1}`, D('9'));
    const users = await snapshotUsers(new RootLayout(root));
    assert.deepEqual(Object.fromEntries(users), {
      [D('a')]: ['container h9s-live'],
      [D('b')]: ['container h9s-live'],
      [D('d')]: [`image mount ${join(tmp, 'mnt-m1')}`],
    });
  });
});
