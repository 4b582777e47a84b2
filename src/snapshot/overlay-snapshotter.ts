// The overlay snapshotter: every snapshot is a directory `<dir>/snapshots/<id>/fs` (and `work` while it is
// active); an active snapshot mounts as overlayfs with its parents' trees as lower layers (nearest first)
// and its own as the upper one, a view as the read-only overlay of its parents, a base as a bind mount.
// Metadata is one document (metadata-store.ts). Directories are private (0700): they hold image content
// and what containers wrote, setuid files and device nodes included (docs/SECURITY.md).
// Like containerd's overlayfs snapshotter: https://github.com/containerd/containerd/tree/main/plugins/snapshots/overlay
import { mkdirSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import { treeUsage } from '../host/disk-usage.js';
import { ensurePrivateDir } from '../store/private-dirs.js';
import { MetadataStore, type SnapshotDb, type SnapshotRecord } from './metadata-store.js';
import {
  MAX_LABEL_BYTES,
  type MountSpec,
  type SnapshotInfo,
  type SnapshotKind,
  type SnapshotOptions,
  type Snapshotter,
  type SnapshotUsage,
} from './snapshotter.js';

/** A snapshotter of unpacked trees stacked with overlayfs. */
export class OverlaySnapshotter implements Snapshotter {
  protected readonly meta: MetadataStore;

  protected constructor(readonly dir: string) {
    this.meta = new MetadataStore(dir);
  }

  /** The snapshotter whose state lives in `dir` (created, private, when missing). */
  static async open(dir: string): Promise<OverlaySnapshotter> {
    const s = new OverlaySnapshotter(dir);
    await s.init();
    return s;
  }

  protected async init(): Promise<void> {
    await mkdir(join(this.dir, '..'), { recursive: true });
    await ensurePrivateDir(this.dir);
    await mkdir(this.snapshotsDir, { recursive: true });
  }

  /** The directory holding a snapshot's tree (its `fs`), by id. */
  treeOf(id: number): string {
    return join(this.snapshotsDir, String(id), 'fs');
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return infoOf(key, recordOf(await this.meta.read(), key));
  }

  async update(info: Pick<SnapshotInfo, 'name' | 'labels'>, fieldpaths: readonly string[] = []): Promise<SnapshotInfo> {
    checkLabels(info.labels);
    return this.meta.transact((db) => {
      const rec = recordOf(db, info.name);
      rec.labels = updatedLabels(rec.labels, info.labels, fieldpaths);
      rec.updated = now();
      return infoOf(info.name, rec);
    });
  }

  async usage(key: string): Promise<SnapshotUsage> {
    const rec = recordOf(await this.meta.read(), key);
    const { bytes, inodes } = await treeUsage(this.treeOf(rec.id));
    return { size: bytes, inodes };
  }

  async mounts(key: string): Promise<MountSpec[]> {
    const db = await this.meta.read();
    const rec = recordOf(db, key);
    if (rec.kind === 'committed') throw failedPrecondition(`snapshot ${key} is committed: prepare or view one on top of it to mount it`);
    return this.mountsOf(db, rec);
  }

  prepare(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.create('active', key, parent, options);
  }

  view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    return this.create('view', key, parent, options);
  }

  async commit(name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    checkKey(name);
    checkLabels(options.labels ?? {});
    const id = await this.meta.transact((db) => {
      const rec = recordOf(db, key);
      if (rec.kind !== 'active') throw failedPrecondition(`snapshot ${key} is ${rec.kind}, not active: only an active snapshot can be committed`);
      if (db.snapshots[name]) throw conflict(`snapshot ${name} already exists`);
      delete db.snapshots[key];
      db.snapshots[name] = { ...rec, kind: 'committed', labels: { ...rec.labels, ...options.labels }, updated: now() };
      return rec.id;
    });
    await rm(join(this.snapshotsDir, String(id), 'work'), { recursive: true, force: true });
  }

  async remove(key: string): Promise<void> {
    const rec = await this.meta.transact((db) => {
      const found = recordOf(db, key);
      const children = Object.keys(db.snapshots).filter((k) => db.snapshots[k]?.parent === key);
      if (children.length > 0) throw failedPrecondition(`cannot remove snapshot ${key}: ${children.length} snapshot(s) have it as parent`);
      delete db.snapshots[key];
      return found;
    });
    await this.removeTree(rec);
  }

  async walk(fn: (info: SnapshotInfo) => void | Promise<void>, filter?: (info: SnapshotInfo) => boolean): Promise<void> {
    const db = await this.meta.read();
    for (const [name, rec] of Object.entries(db.snapshots)) {
      const info = infoOf(name, rec);
      if (!filter || filter(info)) await fn(info);
    }
  }

  async cleanup(): Promise<void> {
    // Under the lock, so that a directory made by a create whose record is not written yet is not taken.
    await this.meta.transact(async (db) => {
      const used = new Set(Object.values(db.snapshots).map((r) => String(r.id)));
      for (const name of await readdir(this.snapshotsDir).catch(() => [] as string[])) {
        if (!used.has(name)) await rm(join(this.snapshotsDir, name), { recursive: true, force: true });
      }
    });
  }

  protected get snapshotsDir(): string {
    return join(this.dir, 'snapshots');
  }

  /** Create the record and the directories of a new active snapshot or view. */
  protected async create(kind: SnapshotKind, key: string, parent: string | undefined, options: SnapshotOptions): Promise<MountSpec[]> {
    checkKey(key);
    checkLabels(options.labels ?? {});
    return this.meta.transact(async (db) => {
      if (db.snapshots[key]) throw conflict(`snapshot ${key} already exists`);
      return this.mountsOf(db, await this.newRecord(db, kind, key, parent, options.labels ?? {}));
    });
  }

  /** Inside a transaction: a new committed snapshot `name` with an empty tree (a remote layer's mount point). */
  protected async createCommitted(db: SnapshotDb, name: string, parent: string | undefined, labels: Record<string, string>): Promise<SnapshotRecord> {
    checkKey(name);
    checkLabels(labels);
    if (db.snapshots[name]) throw conflict(`snapshot ${name} already exists`);
    return this.newRecord(db, 'committed', name, parent, labels);
  }

  /** Inside a transaction: check the parent, take an id, make the directories and add the record. */
  private async newRecord(db: SnapshotDb, kind: SnapshotKind, key: string, parent: string | undefined, labels: Record<string, string>): Promise<SnapshotRecord> {
    if (parent !== undefined && parent !== '') {
      const p = db.snapshots[parent];
      if (!p) throw notFound(`parent snapshot ${parent} does not exist`);
      if (p.kind !== 'committed') throw invalidArgument(`parent snapshot ${parent} is ${p.kind}, not committed`);
    }
    const id = db.nextId++;
    const dir = join(this.snapshotsDir, String(id));
    // synchronous, like the metadata write: a few microseconds each, where each threadpool round trip cost more
    rmSync(dir, { recursive: true, force: true }); // left by a create that crashed before its record was written (empty dirs)
    mkdirSync(join(dir, 'fs'), { recursive: true, mode: 0o755 });
    if (kind === 'active') mkdirSync(join(dir, 'work'), { mode: 0o700 });
    const time = now();
    const rec: SnapshotRecord = { id, kind, ...(parent ? { parent } : {}), labels: { ...labels }, created: time, updated: time };
    db.snapshots[key] = rec;
    return rec;
  }

  /** The mounts of an active snapshot or a view whose record is `rec`. */
  protected mountsOf(db: SnapshotDb, rec: SnapshotRecord): MountSpec[] {
    const lowers = this.parentTrees(db, rec);
    const own = this.treeOf(rec.id);
    if (rec.kind === 'active') {
      if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['rw', 'rbind'] }];
      const work = join(this.snapshotsDir, String(rec.id), 'work');
      return [{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${own}`, `lowerdir=${lowers.join(':')}`] }];
    }
    if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['ro', 'rbind'] }];
    if (lowers.length === 1) return [{ type: 'bind', source: lowers[0] as string, options: ['ro', 'rbind'] }];
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lowers.join(':')}`] }];
  }

  /** The trees of `rec`'s parents, nearest first (overlayfs lowerdir order). */
  protected parentTrees(db: SnapshotDb, rec: SnapshotRecord): string[] {
    const out: string[] = [];
    for (let name = rec.parent, depth = 0; name; depth++) {
      const p = db.snapshots[name];
      if (!p || depth > 1000) throw notFound(`parent snapshot ${name} does not exist`);
      out.push(this.treeOf(p.id));
      name = p.parent;
    }
    return out;
  }

  /** Remove the directory of the snapshot `rec` was: renamed out of the way first, so a half-removed tree keeps no id. */
  protected async removeTree(rec: SnapshotRecord): Promise<void> {
    const id = rec.id;
    const dir = join(this.snapshotsDir, String(id));
    const gone = join(this.snapshotsDir, `removing-${id}`);
    try {
      renameSync(dir, gone);
    } catch {
      // already gone (a Remove that crashed after renaming): rm below finishes it
    }
    if (!removeEmptySnapshotDirSync(gone)) await rm(gone, { recursive: true, force: true }); // a tree with files: off this thread
  }
}

/**
 * Remove a snapshot directory holding only empty directories where a snapshot keeps them (`fs`, `work`,
 * overlayfs's `work/work` and `work/index`) with one rmdir each, synchronously; false (nothing more removed)
 * as soon as one is not there empty: the caller removes the rest off this thread. Most Removes are of such
 * trees (remote snapshots' mount points, views, containers that wrote nothing), where a recursive rm through
 * the threadpool took a dozen round trips.
 */
function removeEmptySnapshotDirSync(dir: string): boolean {
  for (const sub of ['fs', 'work/work', 'work/index', 'work', '']) {
    try {
      rmdirSync(sub ? join(dir, sub) : dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return false; // ENOTEMPTY, ENOTDIR, EBUSY (a mount still on it): the recursive rm decides
    }
  }
  return true;
}

/** The record of `key`; NotFound. */
export function recordOf(db: SnapshotDb, key: string): SnapshotRecord {
  const rec = db.snapshots[key];
  if (!rec) throw notFound(`snapshot ${key} does not exist`);
  return rec;
}

/** The public description of a record. */
export function infoOf(name: string, rec: SnapshotRecord): SnapshotInfo {
  return { name, ...(rec.parent ? { parent: rec.parent } : {}), kind: rec.kind, labels: { ...rec.labels }, created: rec.created, updated: rec.updated };
}

/** Labels after an Update: replaced without fieldpaths (or with `labels`), else key by key (absent or empty: deleted). */
export function updatedLabels(current: Record<string, string>, given: Record<string, string>, fieldpaths: readonly string[]): Record<string, string> {
  if (fieldpaths.length === 0) return { ...given };
  const out = { ...current };
  for (const path of fieldpaths) {
    if (path === 'labels') return { ...given };
    if (!path.startsWith('labels.')) throw invalidArgument(`cannot update ${JSON.stringify(path)} of a snapshot (only labels)`);
    const key = path.slice('labels.'.length);
    const value = given[key];
    if (value === undefined || value === '') delete out[key];
    else out[key] = value;
  }
  return out;
}

function checkKey(key: string): void {
  if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_LABEL_BYTES) throw invalidArgument(`invalid snapshot key ${JSON.stringify(key)}`);
}

function checkLabels(labels: Record<string, string>): void {
  for (const [k, v] of Object.entries(labels)) {
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_BYTES) {
      throw invalidArgument(`label ${JSON.stringify(k.slice(0, 64))} is over ${MAX_LABEL_BYTES} bytes (key and value)`);
    }
  }
}

const now = (): string => new Date().toISOString();
