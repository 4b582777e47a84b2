// The stargz snapshotter: the overlay snapshotter plus remote snapshots. A Prepare whose labels ask for a
// lazily mounted layer (remote-labels.ts) becomes, when the layer can be mounted lazily, a committed
// snapshot under the target name whose tree is a FUSE mount of the layer, and the Prepare answers Conflict
// (containerd's ALREADY_EXISTS: the unpacker adopts the snapshot and never downloads the blob). When it
// cannot (not eStargz, unreachable, TOC does not verify), the Prepare goes on as a normal one (containerd
// downloads and unpacks the layer) and the fallback is reported with its reason, never silent. Mounts of
// snapshots stacked on remote ones first make sure those layers are served (a restart, or a CLI process,
// mounts them again on demand). Who serves the layers is the RemoteLayers port: this process's lazy layer
// service for the CLI, the resident layer service for the snapshotter service.
import { conflict } from '../errors.js';
import type { SnapshotRecord } from './metadata-store.js';
import { OverlaySnapshotter, recordOf } from './overlay-snapshotter.js';
import { remoteLayerOf, remoteLayerOfSnapshot, remoteSnapshotLabels, type RemoteLayerRef } from './remote-labels.js';
import type { MountSpec, SnapshotOptions } from './snapshotter.js';

/** What mounts remote layers for the stargz snapshotter. */
export interface RemoteLayers {
  /**
   * Check that `layer` can be mounted lazily (it resolves, its TOC verifies, it is within limits); the layer
   * with what was learnt (its size); throws saying why not.
   */
  check(layer: RemoteLayerRef, signal?: AbortSignal): Promise<RemoteLayerRef>;
  /** Optional: start fetching what checking these layers needs (they are checked soon, one by one). */
  warm?(layers: readonly RemoteLayerRef[]): void;
  /** Serve each layer lazily at its dir (its snapshot's tree); those already served are left as they are. */
  mount(items: readonly { dir: string; layer: RemoteLayerRef }[]): Promise<void>;
  /** Stop serving `dir`, if it is served. */
  unmount(dir: string): Promise<void>;
}

/** Milliseconds a remote snapshot's steps took: check (TOC fetched and verified) and commit (metadata). */
export interface RemoteTiming {
  checkMs: number;
  commitMs: number;
}

/** Options of StargzSnapshotter.open. */
export interface StargzOptions {
  remote: RemoteLayers;
  /**
   * Mount a remote layer as soon as its snapshot is made (a resident service: prefetch starts at once),
   * beside the Prepare's answer rather than before it (containerd prepares the next layer meanwhile; a
   * mount of the layer asked for before this one is done joins it). Default false: on first use.
   */
  mountOnPrepare?: boolean;
  /** Told when the mount that mountOnPrepare started has ended: how long it took, and its error if it failed (the next use mounts it again). */
  onMounted?: (target: string, layer: RemoteLayerRef, ms: number, error?: unknown) => void;
  /** Told of every remote snapshot made, with how long its steps took. */
  onRemote?: (target: string, layer: RemoteLayerRef, timing: RemoteTiming) => void;
  /** Told of every layer that falls back to a normal (downloading) Prepare, with the error saying why. */
  onFallback?: (target: string, layer: RemoteLayerRef, error: unknown) => void;
}

/** Overlay snapshots plus lazily mounted remote layers. */
export class StargzSnapshotter extends OverlaySnapshotter {
  private constructor(
    dir: string,
    private readonly options: StargzOptions,
  ) {
    super(dir);
  }

  /** The stargz snapshotter whose state lives in `dir`. */
  static async openStargz(dir: string, options: StargzOptions): Promise<StargzSnapshotter> {
    const s = new StargzSnapshotter(dir, options);
    await s.init();
    return s;
  }

  override async prepare(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    const asked = remoteLayerOf(options.labels);
    if (asked && (await this.prepareRemote(asked.target, parent, asked.layer, options.labels ?? {}))) {
      throw conflict(`snapshot ${asked.target} already exists`);
    }
    const mounts = await super.prepare(key, parent, options);
    await this.serveParents(key);
    return mounts;
  }

  override async view(key: string, parent?: string, options: SnapshotOptions = {}): Promise<MountSpec[]> {
    const mounts = await super.view(key, parent, options);
    await this.serveParents(key);
    return mounts;
  }

  override async mounts(key: string): Promise<MountSpec[]> {
    const mounts = await super.mounts(key);
    await this.serveParents(key);
    return mounts;
  }

  /** Every remote snapshot: its tree (where its layer is served) and its layer. */
  async remoteSnapshots(): Promise<{ dir: string; layer: RemoteLayerRef }[]> {
    const db = await this.meta.read();
    const out: { dir: string; layer: RemoteLayerRef }[] = [];
    for (const rec of Object.values(db.snapshots)) {
      const layer = remoteLayerOfSnapshot(rec.labels);
      if (layer) out.push({ dir: this.treeOf(rec.id), layer });
    }
    return out;
  }

  /** The layer a remote snapshot serves, or undefined when `name` is not remote. */
  async remoteLayer(name: string): Promise<RemoteLayerRef | undefined> {
    return remoteLayerOfSnapshot(recordOf(await this.meta.read(), name).labels);
  }

  /**
   * Make `target` a committed remote snapshot of `layer` on `parent`; true when it exists (made now or
   * before), false when the layer must be downloaded (the fallback, reported).
   */
  private async prepareRemote(target: string, parent: string | undefined, layer: RemoteLayerRef, labels: Record<string, string>): Promise<boolean> {
    const db = await this.meta.read();
    if (db.snapshots[target]?.kind === 'committed') return true;
    // the labels list the image's layers from this one up: start on the next ones now
    const next = (layer.layers ?? []).filter((d) => d !== layer.digest).map((digest) => ({ ref: layer.ref, digest }));
    if (next.length > 0) this.options.remote.warm?.(next);
    let checked: RemoteLayerRef;
    const t0 = performance.now();
    try {
      checked = await this.options.remote.check(layer);
    } catch (e) {
      this.options.onFallback?.(target, layer, e);
      return false;
    }
    const t1 = performance.now();
    const own = { ...labels, ...remoteSnapshotLabels(checked) };
    let id = 0;
    const made = await this.meta.transact(async (d) => {
      if (d.snapshots[target]) return false;
      id = (await this.createCommitted(d, target, parent, own)).id;
      return true;
    });
    const t2 = performance.now();
    if (!made) return true;
    const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
    this.options.onRemote?.(target, checked, { checkMs: ms(t0, t1), commitMs: ms(t1, t2) });
    if (this.options.mountOnPrepare) {
      this.options.remote.mount([{ dir: this.treeOf(id), layer: checked }]).then(
        () => this.options.onMounted?.(target, checked, ms(t2, performance.now())),
        (e: unknown) => this.options.onMounted?.(target, checked, ms(t2, performance.now()), e),
      );
    }
    return true;
  }

  /** Serve every remote layer below `key` (its parents), base first, as one batch. */
  private async serveParents(key: string): Promise<void> {
    const db = await this.meta.read();
    const items: { dir: string; layer: RemoteLayerRef }[] = [];
    for (let name = recordOf(db, key).parent, depth = 0; name && depth < 1000; depth++) {
      const rec = recordOf(db, name);
      const layer = remoteLayerOfSnapshot(rec.labels);
      if (layer) items.unshift({ dir: this.treeOf(rec.id), layer });
      name = rec.parent;
    }
    if (items.length > 0) await this.options.remote.mount(items);
  }

  protected override async removeTree(rec: SnapshotRecord): Promise<void> {
    // only a remote snapshot's tree is a lazy mount: asking the remote layers about any other costs a round
    // trip to the fuse manager (and starts one where none runs)
    if (remoteLayerOfSnapshot(rec.labels)) await this.options.remote.unmount(this.treeOf(rec.id));
    await super.removeTree(rec);
  }
}
