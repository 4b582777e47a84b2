// `snapshots ls | info`: gather what the root holds (the stored images' layer chains and rpull records, the
// unpacked layers, the containers, who uses what) and present it as snapshots (snapshot-view.ts).
import { readdir, readlink, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { notFound } from '../../errors.js';
import { mountsUnder } from '../../host/mountinfo.js';
import { isIndexType, isManifestType } from '../../oci/media-types.js';
import { MAX_CONFIG_SIZE, MAX_MANIFEST_SIZE, parseManifestJson } from '../../oci/manifest-json.js';
import type { Descriptor, ImageConfig } from '../../oci/types.js';
import { containerPaths } from '../../runtime/container-paths.js';
import { ownerAlive, readOwner } from '../../runtime/owner.js';
import type { OciLayout } from '../../store/oci-layout.js';
import { listSnapshots, liveHolds, snapshotDir } from '../../store/snapshots.js';
import type { Context } from '../context.js';
import { readLazyRecord } from '../lazy/lazy-record.js';
import { snapshotUsers } from '../lazy/snapshot-users.js';
import { normalizeName } from '../location.js';
import { rootSnapshots, type ContainerEntry, type ImageChain, type RootSnapshot, type UnpackedLayer } from './snapshot-view.js';

/** Every snapshot of the root, sorted by name. */
export async function listRootSnapshots(ctx: Context, options: { signal?: AbortSignal } = {}): Promise<RootSnapshot[]> {
  const store = await ctx.store();
  const chains = await imageChains(ctx, store);
  const unpacked = await unpackedLayers(ctx);
  const users = await snapshotUsers(ctx.paths, options.signal);
  for (const [digest, pids] of await liveHolds(ctx.paths)) users.set(digest, [...(users.get(digest) ?? []), ...pids.filter((p) => p !== String(process.pid)).map((p) => `process ${p}`)]);
  return rootSnapshots(chains, unpacked, await containers(ctx, options.signal), users);
}

/** The snapshot `key` of the root; NotFound. */
export async function snapshotInfo(ctx: Context, key: string, options: { signal?: AbortSignal } = {}): Promise<RootSnapshot> {
  return findSnapshot(await listRootSnapshots(ctx, options), key);
}

/** `key` among `snapshots`; NotFound naming it. */
export function findSnapshot(snapshots: readonly RootSnapshot[], key: string): RootSnapshot {
  const found = snapshots.find((s) => s.name === key);
  if (!found) throw notFound(`snapshot ${key} not found (snapshots ls lists them)`);
  return found;
}

/** The layer chains of every manifest (every platform) of every stored image whose config is stored. */
async function imageChains(ctx: Context, store: OciLayout): Promise<ImageChain[]> {
  const chains: ImageChain[] = [];
  for (const { name, descriptor } of await store.list()) {
    const queue: Descriptor[] = [descriptor];
    for (let d = queue.pop(); d; d = queue.pop()) {
      if (!(isManifestType(d.mediaType) || isIndexType(d.mediaType)) || !(await store.has(d.digest))) continue;
      const parsed = parseManifestJson(await store.readBytes(d.digest, MAX_MANIFEST_SIZE), d);
      if (parsed.kind === 'index') {
        queue.push(...parsed.index.manifests);
        continue;
      }
      const { config, layers } = parsed.manifest;
      if (!(await store.has(config.digest))) continue;
      const diffIds = (JSON.parse((await store.readBytes(config.digest, MAX_CONFIG_SIZE)).toString('utf8')) as Partial<ImageConfig>).rootfs?.diff_ids ?? [];
      if (diffIds.length !== layers.length) continue; // not a runnable image (an artifact, a broken config)
      const record = await readLazyRecord(ctx.paths, d.digest);
      chains.push({
        image: name,
        layers: layers.map((l, i) => ({ digest: l.digest, diffId: diffIds[i]!, ...(record?.layers[i]?.tocDigest ? { tocDigest: record.layers[i]!.tocDigest! } : {}) })),
        lazy: new Set(record?.layers.filter((l) => l.mode === 'lazy').map((l) => l.digest)),
        ...(record ? { pulledAt: record.pulledAt } : {}),
      });
    }
  }
  return chains;
}

async function unpackedLayers(ctx: Context): Promise<UnpackedLayer[]> {
  const out: UnpackedLayer[] = [];
  for (const digest of await listSnapshots(ctx.paths)) {
    const dir = join(snapshotDir(ctx.paths, digest), 'fs');
    const st = await stat(dir).catch(() => undefined);
    if (st) out.push({ digest, dir, created: st.mtime.toISOString() });
  }
  return out;
}

async function containers(ctx: Context, signal?: AbortSignal): Promise<ContainerEntry[]> {
  const out: ContainerEntry[] = [];
  const prefix = resolve(ctx.paths.snapshots, 'sha256-');
  for (const id of await readdir(ctx.paths.containers).catch(() => [] as string[])) {
    if (id.startsWith('.')) continue;
    let paths;
    try {
      paths = containerPaths(ctx.paths, id);
    } catch {
      continue;
    }
    const owner = await readOwner(paths);
    const st = await stat(paths.dir).catch(() => undefined);
    if (!st) continue;
    const live = (await ownerAlive(owner)) || (await mountsUnder(paths.dir, signal)).length > 0;
    const linkedLayers: string[] = [];
    for (const n of await readdir(join(paths.dir, 'l')).catch(() => [] as string[])) {
      const target = resolve(paths.dir, 'l', await readlink(join(paths.dir, 'l', n)).catch(() => ''));
      const hex = /^([0-9a-f]{64})(?:\/|$)/.exec(target.startsWith(prefix) ? target.slice(prefix.length) : '')?.[1];
      if (hex) linkedLayers.push(`sha256:${hex}`);
    }
    out.push({ id, ...(owner?.ref ? { image: safeName(owner.ref) } : {}), linkedLayers, upper: paths.upper, created: st.birthtime.toISOString(), live });
  }
  return out;
}

function safeName(ref: string): string {
  try {
    return normalizeName(ref);
  } catch {
    return ref;
  }
}
