// The CLI's keeper: one resident process per root (the fuse manager program of the snapshotter service,
// started detached on the CLI's root) that serves every lazy layer an rpull hands it, at
// `<root>/snapshotter/layers/<hex>`, one mount per layer shared by every container of the root. `image
// rpull` starts it as it begins and hands it the lazy layers once they are recorded, so their prefetch
// begins at rpull, as the reference's snapshotter does when containerd prepares the layers; `run` finds the
// mounts made (or being made) and neither parses a TOC nor mounts. `image rm` and `image prune` let go of
// the layers no stored image (and no live container) needs, and end the keeper once it serves nothing.
// Only flags that are switches or files travel to the keeper (RegistryAccess): an rpull or run given a
// password or token, or options that change how a layer is served (--no-background-fetch,
// --cache-max-bytes, --skip-content-verify, an optimize's access recorder), serves its layers in its own
// process as before. So does everything when not root, and with CTR_REMOTE_KEEPER=off.
import { basename, dirname } from 'node:path';
import type { FuseManagerClient } from '../../service/fuse-manager-client.js';
import type { MountItem } from '../../service/fuse-manager-protocol.js';
import type { Descriptor } from '../../oci/types.js';
import type { RegistryAccess, RemoteLayerRef } from '../../snapshot/remote-labels.js';
import type { RootLayout } from '../../store/root-layout.js';
import type { Context } from '../context.js';
import { reachableDigests } from '../../store/gc.js';
import type { LazyImageRecord, LazyLayerRecord } from './lazy-record.js';
import { snapshotUsers } from './snapshot-users.js';
import { keeperClient, prepareKeptLayers } from './keeper-handoff.js';

/** A lazy layer of image `name` as the keeper is told of it (a hint, a mount). */
export function keptLayerRef(name: string, layer: { digest: string; size: number; tocDigest?: string | undefined }, access: RegistryAccess): RemoteLayerRef {
  return { ref: name, digest: layer.digest, size: layer.size, ...(layer.tocDigest ? { tocDigest: layer.tocDigest } : {}), ...(Object.keys(access).length ? { access } : {}) };
}

/** The keeper's mount of a lazy layer of image `name`. */
export function keptItem(paths: RootLayout, name: string, rec: LazyLayerRecord, access: RegistryAccess): MountItem {
  return { dir: paths.keptLayerOf(rec.digest), layer: keptLayerRef(name, rec, access), ...(rec.prefetch ? { prefetch: rec.prefetch } : {}) };
}

/** A client of the root's keeper when one runs: it never starts one (not even when that one goes away midway). */
export function runningKeeperClient(paths: RootLayout): FuseManagerClient {
  return keeperClient(paths, { start: false });
}

/**
 * The lowerdirs of an image's lazy layers as the running keeper serves them (each mounted now if it is not
 * yet, joining a mount under way), or undefined when no keeper runs. Throws what the keeper answered.
 */
export async function keptLayerDirs(paths: RootLayout, record: LazyImageRecord, layers: readonly Descriptor[], access: RegistryAccess): Promise<Map<string, string> | undefined> {
  const client = runningKeeperClient(paths);
  if (!(await client.connectIfRunning())) return undefined;
  try {
    const items = layers
      .map((l) => record.layers.find((r) => r.digest === l.digest && r.mode === 'lazy'))
      .filter((r): r is LazyLayerRecord => r !== undefined)
      .map((r) => keptItem(paths, record.name, r, access));
    await prepareKeptLayers(paths);
    await client.mount(items);
    return new Map(items.map((i) => [i.layer.digest, i.dir]));
  } finally {
    client.close();
  }
}

/** What releaseUnusedKeptLayers did. */
export interface KeeperRelease {
  /** Layers the keeper no longer serves. */
  released: string[];
  /** The keeper ended (it served nothing any more). */
  ended: boolean;
  /** Why it stopped short (the keeper went away or refused): the names are removed all the same. */
  error?: string;
}

/**
 * Let the running keeper go of the lazy layers that no stored image lists and no live container uses, and end
 * it when it then serves nothing (`image rm`, `image prune`). Nothing when no keeper runs. Never throws: what
 * went wrong is in `error` (the command's own work is done by then).
 */
export async function releaseUnusedKeptLayers(ctx: Context, signal?: AbortSignal): Promise<KeeperRelease> {
  const client = runningKeeperClient(ctx.paths);
  if (!(await client.connectIfRunning())) return { released: [], ended: false };
  const released: string[] = [];
  try {
    const { served, mounting = [] } = await client.status();
    const needed = await neededLazyLayers(ctx);
    const users = await snapshotUsers(ctx.paths, signal);
    for (const dir of served) {
      if (dirname(dir) !== ctx.paths.keptLayers) continue;
      const digest = `sha256:${basename(dir)}`;
      if (needed.has(digest) || users.has(digest)) continue;
      await client.unmount(dir);
      released.push(digest);
    }
    const ended = served.length === released.length && mounting.length === 0; // a mount under way is an rpull's just now
    if (ended) await client.shutdown();
    return { released, ended };
  } catch (e) {
    return { released, ended: false, error: e instanceof Error ? e.message : String(e) };
  } finally {
    client.close();
  }
}

/** Every digest the store's names reach (a lazy layer among them is still needed). */
async function neededLazyLayers(ctx: Context): Promise<Set<string>> {
  const store = await ctx.store();
  return reachableDigests(store, (await store.readIndex()).manifests);
}
