// The one owner check (pid + start time) and the owned names built on it: a pid that now belongs to
// another process (reuse) is dead, whoever checks (store files, container claims, mount records).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nameOwner, ownedName, removeDeadOwned } from '../../src/host/owned-names.js';
import { isOwnerAlive, ownerOf, parseOwner, processStartTime, selfOwner } from '../../src/host/process-owner.js';
import { mountOwnerAlive } from '../../src/image/lazy/mount-record.js';
import { cleanupStaleContainers } from '../../src/runtime/cleanup.js';
import { ownerAlive } from '../../src/runtime/owner.js';
import { RootLayout } from '../../src/store/root-layout.js';

/** Our own pid with a start time it does not have: what a record of a dead process looks like after pid reuse. */
const reusedPid = () => `${process.pid}.${Number(processStartTime(process.pid)) + 1}`;

describe('process owner', () => {
  test('this process is alive under its own owner string, not under its pid with another start time', () => {
    assert.equal(selfOwner(), ownerOf(process.pid));
    assert.ok(isOwnerAlive(selfOwner()));
    assert.equal(isOwnerAlive(reusedPid()), false, 'same pid, other start time: a different process');
    assert.equal(parseOwner(selfOwner())?.pid, process.pid);
    for (const bad of ['', 'x', `${process.pid}`, '0.5', '-1.5', `${process.pid}.`]) assert.equal(isOwnerAlive(bad), false, bad);
  });

  test('a process that exited is dead', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    await once(child, 'spawn');
    const owner = ownerOf(child.pid!)!;
    assert.ok(isOwnerAlive(owner));
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.equal(isOwnerAlive(owner), false);
  });

  test('container owner records and image mount records use the same check', async () => {
    const start = processStartTime(process.pid)!;
    assert.ok(await ownerAlive({ pid: process.pid, startTime: start, remove: false, ref: 'x' }));
    assert.equal(await ownerAlive({ pid: process.pid, startTime: String(Number(start) + 1), remove: false, ref: 'x' }), false);
    assert.ok(mountOwnerAlive({ owner: selfOwner(), pid: process.pid }));
    assert.equal(mountOwnerAlive({ owner: reusedPid(), pid: process.pid }), false, 'a mount record whose pid was reused is dead');
    const dead = execFileSync('sh', ['-c', 'sh -c "echo \$\$"']).toString().trim();
    assert.ok(mountOwnerAlive({ pid: process.pid }), "an earlier version's record (no owner) of a running server is alive");
    assert.equal(mountOwnerAlive({ pid: Number(dead) }), false, 'and dead once that pid is gone');
  });
});

describe('owned names', () => {
  test('removeDeadOwned removes entries of dead owners only and reports their sizes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'owned-names-'));
    try {
      const live = ownedName('tmp-');
      const dead = `tmp-${reusedPid()}-abc`;
      assert.equal(nameOwner(live, 'tmp-'), selfOwner());
      await mkdir(join(dir, live));
      await mkdir(join(dir, dead));
      await writeFile(join(dir, dead, 'spool'), Buffer.alloc(3000));
      await writeFile(join(dir, 'tmp-unrelated'), 'x');
      const removed = await removeDeadOwned(dir, ['tmp-'], { dryRun: true });
      assert.deepEqual(removed, [{ path: join(dir, dead), bytes: 3000 }]);
      assert.equal((await readdir(dir)).length, 3, 'dry run removes nothing');
      assert.deepEqual(await removeDeadOwned(dir, ['tmp-']), removed);
      assert.deepEqual((await readdir(dir)).sort(), [live, 'tmp-unrelated'].sort());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a container claim of a dead process is removed even when its pid is running again', async () => {
    const root = await mkdtemp(join(tmpdir(), 'owned-claims-'));
    try {
      const dead = `.new-${reusedPid()}-abc`;
      const live = ownedName('.new-');
      await mkdir(join(root, 'containers', dead), { recursive: true });
      await mkdir(join(root, 'containers', live));
      await cleanupStaleContainers(new RootLayout(root));
      assert.deepEqual(await readdir(join(root, 'containers')), [live]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

test('a zombie (exited, not reaped yet) is not a live owner', async () => {
  // perl forks a child that exits at once and never waits for it: the child stays a zombie until perl ends.
  // (sh with `exec sleep` was flaky: dash may reap a finished background job before the exec.)
  const parent = spawn('perl', ['-e', '$| = 1; my $p = fork(); exit 0 unless $p; print "$p\\n"; sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
    const pid = Number(String(line).trim());
    let state = '';
    for (const deadline = Date.now() + 2_000; state !== 'Z' && Date.now() < deadline; await new Promise((r) => setTimeout(r, 10))) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
    }
    assert.equal(state, 'Z', `pid ${pid} is a zombie (its /proc entry is still there)`);
    assert.equal(processStartTime(pid), undefined);
    assert.equal(ownerOf(pid), undefined);
    assert.equal(isOwnerAlive(`${pid}.0`), false);
  } finally {
    parent.kill('SIGKILL');
  }
});
