// The snapshots of a root in containerd's vocabulary (snapshot/snapshotter.ts), made from what the root
// holds: a layer unpacked under <root>/snapshots, or a lazy layer of an rpulled image, is the committed
// snapshot named by its chain ID (what containerd names a layer's snapshot by; `pull --print-chainid`
// prints the top one), its parent the chain ID below it; a container is the active snapshot named by its ID,
// on the top layer of its image. An unpacked layer no stored image has is named by its layer digest. Pure.
import type { SnapshotKind } from '../../snapshot/snapshotter.js';
import { chainIds } from '../../oci/chain-id.js';

/** Where a snapshot's tree comes from. */
export type SnapshotSource = 'unpacked' | 'lazy' | 'container';

/** One snapshot of the root. */
export interface RootSnapshot {
  /** Its key: a chain ID (layers), a container ID (active), or a layer digest (an unpacked layer no image has). */
  name: string;
  parent?: string;
  kind: SnapshotKind;
  /**
   * unpacked: a layer unpacked under <root>/snapshots; lazy: a layer fetched on demand from the registry
   * (no tree on disk; FUSE serves it while a run or image mount uses it); container: a container's writable layer.
   */
  source: SnapshotSource;
  labels: Record<string, string>;
  /** RFC 3339 times. */
  created: string;
  updated: string;
  /** The layer blob (unpacked and lazy snapshots). */
  layer?: string;
  /** The tree on disk: the unpacked layer's `fs`, the container's upper dir. */
  dir?: string;
  /** Names of the stored images whose layers include it. */
  images: string[];
  /** Who uses it now ("container ID", "image mount DIR", "process PID"). */
  users: string[];
}

/** One layer stack of a stored image (one per platform manifest whose config is stored). */
export interface ImageChain {
  image: string;
  /** Base first. */
  layers: { digest: string; diffId: string; tocDigest?: string }[];
  /** Layers an rpull left in the registry. */
  lazy: ReadonlySet<string>;
  /** When the image was rpulled (the time of its lazy snapshots). */
  pulledAt?: string;
}

/** An unpacked layer directory: its layer digest and its time. */
export interface UnpackedLayer {
  digest: string;
  dir: string;
  created: string;
}

/** A container directory of the root. */
export interface ContainerEntry {
  id: string;
  /** The image it was made from (normalized name), when its owner record says. */
  image?: string;
  /** The layer digests of its lowerdir links that are unpacked snapshots (to tell the platform of an index). */
  linkedLayers: string[];
  upper: string;
  created: string;
  live: boolean;
}

/** Label of a layer snapshot: the layer blob's digest. */
export const LAYER_LABEL = 'ctr-remote/layer.digest';
/** Label of a lazy layer snapshot: its TOC digest. */
export const TOC_LABEL = 'containerd.io/snapshot/stargz/toc.digest';
/** Label of a container's snapshot: its image. */
export const IMAGE_LABEL = 'ctr-remote/container.image';

/** The snapshots of a root from its image chains, unpacked layers and containers (see module comment). */
export function rootSnapshots(chains: readonly ImageChain[], unpacked: readonly UnpackedLayer[], containers: readonly ContainerEntry[], users: ReadonlyMap<string, string[]>): RootSnapshot[] {
  const byName = new Map<string, RootSnapshot>();
  const unpackedBy = new Map(unpacked.map((u) => [u.digest, u]));
  const placed = new Set<string>();
  for (const chain of chains) {
    const ids = chainIds(chain.layers.map((l) => l.diffId));
    chain.layers.forEach((layer, i) => {
      const name = ids[i]!;
      const known = byName.get(name);
      if (known) return void (known.images.includes(chain.image) || known.images.push(chain.image));
      const u = unpackedBy.get(layer.digest);
      const lazy = !u && chain.lazy.has(layer.digest);
      if (!u && !lazy) return;
      const time = u?.created ?? chain.pulledAt ?? new Date(0).toISOString();
      byName.set(name, {
        name, ...(i > 0 ? { parent: ids[i - 1]! } : {}), kind: 'committed', source: u ? 'unpacked' : 'lazy',
        labels: { [LAYER_LABEL]: layer.digest, ...(lazy && layer.tocDigest ? { [TOC_LABEL]: layer.tocDigest } : {}) },
        created: time, updated: time, layer: layer.digest, ...(u ? { dir: u.dir } : {}), images: [chain.image], users: u ? (users.get(layer.digest) ?? []) : [],
      });
      if (u) placed.add(layer.digest);
    });
  }
  for (const u of unpacked) {
    if (placed.has(u.digest) || byName.has(u.digest)) continue;
    byName.set(u.digest, { name: u.digest, kind: 'committed', source: 'unpacked', labels: { [LAYER_LABEL]: u.digest }, created: u.created, updated: u.created, layer: u.digest, dir: u.dir, images: [], users: users.get(u.digest) ?? [] });
  }
  for (const c of containers) {
    const parent = containerParent(c, chains);
    byName.set(c.id, {
      name: c.id, ...(parent ? { parent } : {}), kind: 'active', source: 'container', labels: c.image ? { [IMAGE_LABEL]: c.image } : {},
      created: c.created, updated: c.created, dir: c.upper, images: c.image ? [c.image] : [], users: c.live ? [`container ${c.id}`] : [],
    });
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The chain ID of the top layer of a container's image: of the one chain of that image that has all its unpacked links. */
function containerParent(c: ContainerEntry, chains: readonly ImageChain[]): string | undefined {
  const mine = chains.filter((ch) => ch.image === c.image && c.linkedLayers.every((d) => ch.layers.some((l) => l.digest === d)));
  if (mine.length !== 1) return undefined;
  return chainIds(mine[0]!.layers.map((l) => l.diffId)).at(-1);
}

/** The snapshots whose parent is `name`. */
export function childrenOf(snapshots: readonly RootSnapshot[], name: string): RootSnapshot[] {
  return snapshots.filter((s) => s.parent === name);
}
