// The snapshotter conformance suite (in the spirit of containerd's core/snapshots/testsuite): the same
// behaviour asked of every Snapshotter implementation. Metadata behaviour runs everywhere; what needs the
// trees mounted (real bind and overlayfs mounts through runtime/rootfs.ts) skips with the reason when not
// root. Each test gets a fresh snapshotter in a fresh directory.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCtrError, type ErrorCode } from '../../src/errors.js';
import { mountsUnder } from '../../src/host/mountinfo.js';
import { unmount, unmountUnder } from '../../src/host/unmount.js';
import { mountSpecs } from '../../src/runtime/rootfs.js';
import type { Snapshotter } from '../../src/snapshot/snapshotter.js';

/** Makes the snapshotter under test with its state in `dir`; `reopen` makes another instance over the same state. */
export type SnapshotterFactory = (dir: string) => Promise<Snapshotter>;

const rootSkip = process.getuid?.() !== 0 ? 'needs root: bind and overlayfs mounts' : false;

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isCtrError(e, code), `want ${code}, got ${String(e)}`);
    if (message) assert.match((e as Error).message, message);
    return true;
  });
}

/** Register the conformance tests of the snapshotter `name` made by `factory`. */
export function snapshotterConformance(name: string, factory: SnapshotterFactory): void {
  describe(`snapshotter conformance: ${name}`, () => {
    let tmp: string;
    let n = 0;
    before(async () => {
      tmp = await mkdtemp(join(tmpdir(), `snapshot-suite-${name}-`));
    });
    after(async () => {
      for (const m of await mountsUnder(tmp)) await unmount(m).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true });
    });
    /** A fresh snapshotter, its state dir, and a scratch dir for mount points. */
    const fresh = async () => {
      const base = join(tmp, `case-${n++}`);
      await mkdir(join(base, 'work'), { recursive: true });
      return { s: await factory(join(base, 'state')), state: join(base, 'state'), work: join(base, 'work') };
    };
    /** Mount what a snapshotter returned at `work/<name>`; returns the mount point. */
    const mountAt = async (work: string, what: string, specs: Parameters<typeof mountSpecs>[0]) => {
      const target = join(work, what);
      await mountSpecs(specs, target, join(work, `links-${what}`));
      return target;
    };

    test('keys and names: Conflict for a key or name in use, NotFound and InvalidArgument for parents, FailedPrecondition for commits', async () => {
      const { s } = await fresh();
      await s.prepare('a');
      await rejectsWith(s.prepare('a'), 'Conflict', /snapshot a already exists/);
      await rejectsWith(s.view('a'), 'Conflict');
      await s.commit('base', 'a');
      await rejectsWith(s.stat('a'), 'NotFound');
      await rejectsWith(s.prepare('x', 'nope'), 'NotFound', /parent snapshot nope does not exist/);
      await s.prepare('active-parent');
      await rejectsWith(s.prepare('y', 'active-parent'), 'InvalidArgument', /not committed/);
      await s.view('v', 'base');
      await rejectsWith(s.commit('c', 'v'), 'FailedPrecondition', /not active/);
      await s.prepare('b', 'base');
      await rejectsWith(s.commit('base', 'b'), 'Conflict');
      await rejectsWith(s.commit('c', 'missing'), 'NotFound');
      await rejectsWith(s.prepare(''), 'InvalidArgument');
    });

    test('stat and walk: kinds, parents, labels; a committed snapshot keeps its id-less name and its labels merged', async () => {
      const { s } = await fresh();
      await s.prepare('p', undefined, { labels: { a: '1' } });
      const active = await s.stat('p');
      assert.deepEqual([active.name, active.kind, active.parent, active.labels], ['p', 'active', undefined, { a: '1' }]);
      await s.commit('A', 'p', { labels: { b: '2' } });
      const committed = await s.stat('A');
      assert.deepEqual([committed.kind, committed.labels], ['committed', { a: '1', b: '2' }]);
      await s.prepare('q', 'A');
      await s.commit('B', 'q');
      await s.view('v', 'B');
      const b = await s.stat('B');
      assert.equal(b.parent, 'A');
      assert.equal((await s.stat(b.parent!)).parent, undefined, 'transitivity: A is the grandparent of v');
      const walked: Record<string, string> = {};
      await s.walk((i) => void (walked[i.name] = `${i.kind}:${i.parent ?? ''}`));
      assert.deepEqual(walked, { A: 'committed:', B: 'committed:A', v: 'view:B' });
      const only: string[] = [];
      await s.walk((i) => void only.push(i.name), (i) => i.kind === 'committed');
      assert.deepEqual(only.sort(), ['A', 'B']);
    });

    test('update: labels replaced, or set and deleted key by key with fieldpaths; other fields refused; sizes bounded', async () => {
      const { s } = await fresh();
      await s.prepare('k', undefined, { labels: { keep: 'x', drop: 'y' } });
      const before = await s.stat('k');
      await new Promise((r) => setTimeout(r, 5));
      const u1 = await s.update({ name: 'k', labels: { add: 'z' } }, ['labels.add', 'labels.drop']);
      assert.deepEqual(u1.labels, { keep: 'x', add: 'z' });
      assert.ok(u1.updated > before.updated, 'updated time moves');
      assert.equal(u1.created, before.created);
      assert.deepEqual((await s.update({ name: 'k', labels: { only: '1' } })).labels, { only: '1' });
      assert.deepEqual((await s.update({ name: 'k', labels: { all: '2' } }, ['labels'])).labels, { all: '2' });
      await rejectsWith(s.update({ name: 'k', labels: {} }, ['parent']), 'InvalidArgument');
      await rejectsWith(s.update({ name: 'k', labels: { big: 'x'.repeat(5000) } }), 'InvalidArgument', /over 4096 bytes/);
      await rejectsWith(s.update({ name: 'missing', labels: {} }), 'NotFound');
    });

    test('remove: refused while children exist (FailedPrecondition), then from the top down; the tree is gone', async () => {
      const { s, state } = await fresh();
      await s.prepare('a');
      await s.commit('base', 'a');
      await s.prepare('b', 'base');
      await s.commit('inter', 'b');
      await s.prepare('top', 'inter');
      await rejectsWith(s.remove('inter'), 'FailedPrecondition', /have it as parent/);
      await rejectsWith(s.remove('base'), 'FailedPrecondition');
      const before = (await readdir(join(state, 'snapshots'))).length;
      await s.remove('top');
      await s.remove('inter');
      await s.remove('base');
      await rejectsWith(s.remove('base'), 'NotFound');
      assert.equal((await readdir(join(state, 'snapshots'))).length, before - 3);
    });

    test('remove: a tree holding files, one holding only overlayfs work dirs and an untouched one are all gone, nothing left beside them', async () => {
      const { s, state } = await fresh();
      const before = await readdir(join(state, 'snapshots'));
      const trees: string[] = [];
      for (const key of ['full', 'worked', 'untouched']) {
        const [m] = await s.prepare(key);
        trees.push(m!.source.replace(/\/fs$/, ''));
      }
      await mkdir(join(trees[0]!, 'fs', 'deep', 'er'), { recursive: true });
      await writeFile(join(trees[0]!, 'fs', 'deep', 'er', 'file'), 'what a container wrote');
      await mkdir(join(trees[1]!, 'work', 'work'), { recursive: true });
      await mkdir(join(trees[1]!, 'work', 'index'));
      for (const key of ['full', 'worked', 'untouched']) await s.remove(key);
      assert.deepEqual(await readdir(join(state, 'snapshots')), before);
    });

    test('state survives a new instance (a restart); ids are never reused; cleanup removes only unreferenced trees', async () => {
      const { s, state } = await fresh();
      await s.prepare('a', undefined, { labels: { l: 'v' } });
      await s.commit('base', 'a');
      await s.prepare('gone');
      await s.remove('gone');
      const again = await factory(state);
      assert.deepEqual((await again.stat('base')).labels, { l: 'v' });
      await again.prepare('next', 'base');
      const ids = (await readdir(join(state, 'snapshots'))).filter((d) => /^\d+$/.test(d)).map(Number).sort((x, y) => x - y);
      assert.equal(new Set(ids).size, ids.length);
      assert.ok(Math.max(...ids) >= 3, `the removed snapshot's id is not reused: ${ids}`);
      await mkdir(join(state, 'snapshots', '999', 'fs'), { recursive: true });
      await again.cleanup();
      const left = await readdir(join(state, 'snapshots'));
      assert.ok(!left.includes('999'), 'a tree no record names is removed');
      assert.equal(left.length, 2, 'the trees of base and next stay');
    });

    test('concurrent changes from two instances (two processes) lose nothing', async () => {
      const { s, state } = await fresh();
      const other = await factory(state);
      await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? s : other).prepare(`c${i}`)));
      const names: string[] = [];
      await s.walk((i) => void names.push(i.name));
      assert.equal(names.length, 24);
      const ids = await readdir(join(state, 'snapshots'));
      assert.equal(ids.length, 24, 'one tree per snapshot');
    });

    describe('mounted trees', { skip: rootSkip }, () => {
      test('a layer workflow: base, a child that changes, deletes and adds, views of each; whiteouts hide lower files', async () => {
        const { s, work } = await fresh();
        const base = await mountAt(work, 'base', await s.prepare('base-key'));
        await writeFile(join(base, 'foo'), 'foo\n');
        await writeFile(join(base, 'gone'), 'x');
        await mkdir(join(base, 'a/b/c'), { recursive: true });
        await unmountUnder(base);
        await s.commit('base', 'base-key');
        const next = await mountAt(work, 'next', await s.prepare('next-key', 'base'));
        assert.equal(await readFile(join(next, 'foo'), 'utf8'), 'foo\n', 'the child sees its parent');
        await writeFile(join(next, 'foo'), 'bar\n');
        await writeFile(join(next, 'bar'), 'bar\n');
        await rm(join(next, 'a/b'), { recursive: true });
        await rm(join(next, 'gone'));
        await unmountUnder(next);
        await s.commit('next', 'next-key');
        const view = await mountAt(work, 'view', await s.view('view', 'next'));
        assert.deepEqual((await readdir(view)).sort(), ['a', 'bar', 'foo']);
        assert.deepEqual(await readdir(join(view, 'a')), []);
        assert.equal(await readFile(join(view, 'foo'), 'utf8'), 'bar\n');
        const baseView = await mountAt(work, 'base-view', await s.view('base-view', 'base'));
        assert.deepEqual((await readdir(baseView)).sort(), ['a', 'foo', 'gone'], 'the parent is unchanged');
        await unmountUnder(view);
        await unmountUnder(baseView);
        await s.remove('view');
        await s.remove('base-view');
        await s.remove('next');
        await s.remove('base');
      });

      test('a view is read-only; an active snapshot is writable; usage counts its own tree', async () => {
        const { s, work } = await fresh();
        const a = await mountAt(work, 'a', await s.prepare('a'));
        await writeFile(join(a, 'data'), Buffer.alloc(100_000, 1));
        await mkdir(join(a, 'dir'));
        const usage = await s.usage('a');
        assert.ok(usage.size >= 100_000, `size ${usage.size}`);
        assert.ok(usage.inodes >= 3, `inodes ${usage.inodes}`);
        await unmountUnder(a);
        await s.commit('A', 'a');
        const v = await mountAt(work, 'v', await s.view('v', 'A'));
        await assert.rejects(writeFile(join(v, 'new'), 'x'), (e: NodeJS.ErrnoException) => e.code === 'EROFS');
        assert.equal((await stat(join(v, 'data'))).size, 100_000);
        await unmountUnder(v);
        const child = await mountAt(work, 'child', await s.prepare('child', 'A'));
        await writeFile(join(child, 'new'), 'x');
        assert.ok((await s.usage('child')).size < 100_000, "a child's usage is its own upper tree only");
        await unmountUnder(child);
      });
    });
  });
}
