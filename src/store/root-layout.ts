// Where everything lives under a root (`--root`): the one place its layout is spelled. Commands get it
// from their context (image/context.ts) and pass the paths they need down; nothing else joins a name onto
// the root.
//   store/        the OCI image layout (blobs, index.json, ingest/): readable, blobs are inert bytes
//   tmp/          commands' scratch files (convert spools), owned names
//   snapshots/    unpacked layers (store/snapshots.ts)
//   containers/   one directory per container (runtime/container-paths.ts)
//   runc/         runc's state directory
//   mounts/       records of `image mount`s
//   cache/        the chunk cache of lazy layers
//   lazy/         rpull records (images/), verified TOC tails (tails/), last layer counters (state/)
//   optimize/     the work directories of running optimizes
//   snapshotter/  the snapshotter service's snapshots (snapshot/overlay-snapshotter.ts) and its sockets;
//                 in the CLI's root, the keeper's socket and its layer mounts (layers/<hex>)
// Every directory but store/ is private to the root's owner (store/private-dirs.ts).
import { isAbsolute, join } from 'node:path';
import { invalidArgument } from '../errors.js';
import { digestHex } from '../oci/digest.js';

/** The directories of one root. */
export class RootLayout {
  readonly store: string;
  readonly tmp: string;
  readonly snapshots: string;
  readonly containers: string;
  readonly runc: string;
  readonly mounts: string;
  readonly cache: string;
  readonly lazy: string;
  readonly optimize: string;
  readonly snapshotter: string;

  /** The layout of the root at `dir` (an absolute path: mount(8), overlayfs and runc get paths below it). */
  constructor(readonly dir: string) {
    if (!isAbsolute(dir)) throw invalidArgument(`root ${JSON.stringify(dir)} is not an absolute path`);
    this.store = join(dir, 'store');
    this.tmp = join(dir, 'tmp');
    this.snapshots = join(dir, 'snapshots');
    this.containers = join(dir, 'containers');
    this.runc = join(dir, 'runc');
    this.mounts = join(dir, 'mounts');
    this.cache = join(dir, 'cache');
    this.lazy = join(dir, 'lazy');
    this.optimize = join(dir, 'optimize');
    this.snapshotter = join(dir, 'snapshotter');
  }

  /** The directories only the root's owner may enter, in the order they are made. */
  get privateDirs(): readonly string[] {
    return [this.snapshots, this.containers, this.mounts, this.cache, this.lazy, this.optimize, this.runc, this.tmp];
  }

  /** The rpull records (one per manifest). */
  get lazyImages(): string {
    return join(this.lazy, 'images');
  }

  /** The verified TOC tails of lazy layers (one per layer). */
  get lazyTails(): string {
    return join(this.lazy, 'tails');
  }

  /** Where the CLI's keeper (image/lazy/layer-keeper.ts) serves lazy layers, one directory per layer. */
  get keptLayers(): string {
    return join(this.snapshotter, 'layers');
  }

  /** The mount point of a lazy layer served by the CLI's keeper. */
  keptLayerOf(layerDigest: string): string {
    return join(this.keptLayers, digestHex(layerDigest));
  }

  /** The last counters of each lazy layer (one per layer), kept for `image status`. */
  lazyStateOf(layerDigest: string): string {
    return join(this.lazy, 'state', `${digestHex(layerDigest)}.json`);
  }
}
