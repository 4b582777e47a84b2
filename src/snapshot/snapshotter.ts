// containerd's snapshot vocabulary, the centre the CLI and the snapshotter service share: a snapshot is a
// directory tree named by a key; an active one (Prepare) is writable, a view (View) is read-only, and a
// committed one (Commit of an active) is immutable and may be the parent of others. Mounts are returned
// as descriptions; the caller mounts them (runtime/rootfs.ts mountSnapshot for our own use).
// https://github.com/containerd/containerd/blob/main/core/snapshots/snapshotter.go
// Errors: NotFound, Conflict (a key or name that exists: containerd's AlreadyExists), FailedPrecondition
// (not active, has children), InvalidArgument (bad key, parent not committed, labels too large).

/** What a snapshot is. */
export type SnapshotKind = 'active' | 'view' | 'committed';

/** A snapshot as Stat and Walk describe it. */
export interface SnapshotInfo {
  /** Its key (active, view) or name (committed). */
  name: string;
  /** Name of the committed snapshot it was prepared from; absent for a base. */
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  /** RFC 3339 times. */
  created: string;
  updated: string;
}

import type { MountSpec } from '../host/mount-spec.js';

export type { MountSpec } from '../host/mount-spec.js';

/** Disk use of a snapshot's own tree (not its parents'). */
export interface SnapshotUsage {
  size: number;
  inodes: number;
}

/** Options of prepare, view and commit. */
export interface SnapshotOptions {
  /** Labels of the new snapshot. Default none. */
  labels?: Record<string, string>;
}

/** A snapshotter (containerd's Snapshotter interface). */
export interface Snapshotter {
  /** The snapshot `key` names; NotFound. */
  stat(key: string): Promise<SnapshotInfo>;
  /**
   * Change labels: with `fieldpaths` (`labels` or `labels.KEY`) only those, a key absent from `info.labels`
   * being deleted; without, the labels are replaced. Returns the new info.
   */
  update(info: Pick<SnapshotInfo, 'name' | 'labels'>, fieldpaths?: readonly string[]): Promise<SnapshotInfo>;
  /** Disk use of the snapshot's own tree. */
  usage(key: string): Promise<SnapshotUsage>;
  /** How to mount an active snapshot or a view. */
  mounts(key: string): Promise<MountSpec[]>;
  /** A new active (writable) snapshot on top of the committed `parent`; Conflict when `key` exists. */
  prepare(key: string, parent?: string, options?: SnapshotOptions): Promise<MountSpec[]>;
  /** A new read-only view of the committed `parent`. */
  view(key: string, parent?: string, options?: SnapshotOptions): Promise<MountSpec[]>;
  /** Make the active snapshot `key` the committed snapshot `name` (key is gone afterwards). */
  commit(name: string, key: string, options?: SnapshotOptions): Promise<void>;
  /** Remove a snapshot without children. */
  remove(key: string): Promise<void>;
  /** Call `fn` for every snapshot (that `filter` accepts). */
  walk(fn: (info: SnapshotInfo) => void | Promise<void>, filter?: (info: SnapshotInfo) => boolean): Promise<void>;
  /** Remove what no snapshot uses any more (directories left by crashes). */
  cleanup(): Promise<void>;
}

/** Largest size of one label (key + value), as containerd checks it. */
export const MAX_LABEL_BYTES = 4096;
