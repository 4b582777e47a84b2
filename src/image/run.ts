// `run`: start a container from an image of the local store, in the foreground, with runc.
//   snapshotter 'overlayfs' (default after a full pull): each layer unpacked once into
//     <root>/snapshots/sha256-<hex>/fs (layer-snapshot.ts), shared by all containers;
//   snapshotter 'stargz' (default when the image was rpulled): lazy layers are the FUSE mounts of the root's
//     keeper when it runs (lazy/layer-keeper.ts: rpull started it), else FUSE mounts under the container's
//     own directory (layer-mounts.ts), served by this process while the container runs.
// Either way the rootfs is overlayfs with a per-container upper dir (runtime/container.ts).
// With `rootfs` (`run --rootfs DIR ID CMD`), REF is a directory used as the root filesystem as it is: no
// image, no snapshotter, the command line is the whole command.
import { settleAll } from '../host/settle-all.js';
import { failedPrecondition, invalidArgument, unsupported } from '../errors.js';
import type { Platform } from '../oci/types.js';
import { cleanupStaleContainers } from '../runtime/cleanup.js';
import { checkContainerId } from '../runtime/container-paths.js';
import { runInContainer, type ContainerOptions, type LayerDirs } from '../runtime/container.js';
import { containerEnv } from '../runtime/env.js';
import { containerMounts } from '../runtime/mount-flag.js';
import type { RuncRunResult } from '../runtime/runc.js';
import type { Context } from './context.js';
import { mountImageLayers, type LayerMountsOptions } from './lazy/layer-mounts.js';
import { ensureSnapshot, useSnapshot, type UsedSnapshot } from './lazy/layer-snapshot.js';
import { keptLayerDirs } from './lazy/layer-keeper.js';
import { registryAccess, whyNoKeeper } from './lazy/keeper-policy.js';
import type { LazyImageRecord } from './lazy/lazy-record.js';
import { checkRunsHere, openStoredImage, type StoredImage } from './stored-image.js';

/** How the image layers become lowerdirs. */
export type Snapshotter = 'stargz' | 'overlayfs';

/** Options of runContainer (the CLI flags of `run`). */
export interface RunOptions
  extends Pick<ContainerOptions, 'args' | 'cwd' | 'user' | 'netHost' | 'tty' | 'stdin' | 'stdout' | 'stderr' | 'remove' | 'runc' | 'onSpec' | 'onSpawn' | 'killOnAbort' | 'forwardSignals' | 'log' | 'restart' | 'onStarted' | 'onExited'>,
    Pick<ContainerOptions, 'privileged' | 'readonlyRootfs' | 'capAdd' | 'capDrop' | 'memoryLimit' | 'cpus' | 'cni' | 'dns' | 'extraHosts' | 'labels'>,
    Pick<LayerMountsOptions, 'registry' | 'noBackgroundFetch' | 'cacheMaxBytes' | 'skipContentVerify' | 'onAccess' | 'onWarning'> {
  /** Default: 'stargz' when the image was rpulled, else 'overlayfs'. */
  snapshotter?: Snapshotter;
  /** `--env K=V` (or `K` to unset), applied after the env file. */
  env?: string[];
  /** `--env-file F`: one K=V per line. */
  envFile?: string;
  /** `--mount type=bind,source=S,destination=D,options=ro:rbind`. */
  mounts?: string[];
  /**
   * The manifest the image must still be (a restarted container: its kept writes belong over those
   * layers); a name that now names another manifest is refused. Default: whatever the name names.
   */
  manifestDigest?: string;
  /** Told the manifest the name resolved to, before anything is set up. */
  onImage?: (manifestDigest: string) => void;
  /** Platform to run from an index. Default: this host. */
  platform?: Platform;
  /** `--rootfs`: REF is a root filesystem directory, not an image (see module comment). Default false. */
  rootfs?: boolean;
  signal?: AbortSignal;
}

/** What a run did. */
export interface RunResult extends RuncRunResult {
  /** 'rootfs' with `rootfs`: no snapshotter provided the layers. */
  snapshotter: Snapshotter | 'rootfs';
  image: string;
}

/** Run image `ref` as container `id` and wait for it (see module comment). Root only. */
export async function runContainer(ctx: Context, ref: string, id: string, o: RunOptions = {}): Promise<RunResult> {
  if (process.getuid?.() !== 0) throw unsupported('run needs root: it mounts overlayfs (and FUSE for lazy layers) and starts containers with runc');
  checkContainerId(id);
  await ctx.secure();
  const env = await containerEnv(o.envFile, o.env);
  const mounts = containerMounts(o.mounts);
  const cleaned = cleanupStaleContainers(ctx.paths, { runc: o.runc, signal: o.signal });
  if (o.rootfs) {
    await cleaned;
    return runRootfs(ctx, ref, id, { ...o, env, mounts });
  }
  // the image is opened while dead containers are cleaned (`runc list` alone is ~25 ms); both end before either's failure is thrown (the cleanup's first)
  const [, image] = await settleAll([cleaned, openStoredImage(ctx, ref, o.platform)]);
  if (!o.platform) checkRunsHere(image); // an image for another platform runs only when --platform asked for it
  if (o.manifestDigest !== undefined && image.manifestDigest !== o.manifestDigest) {
    throw failedPrecondition(`image ${image.name} now names manifest ${image.manifestDigest}; container ${id} was made from ${o.manifestDigest} (its writes belong over those layers): tag that manifest again, or remove the container`);
  }
  o.onImage?.(image.manifestDigest);
  const snapshotter = o.snapshotter ?? (image.record ? 'stargz' : 'overlayfs');
  if (snapshotter === 'overlayfs') await requireFullLayers(ctx, image);
  const result = await runInContainer({
    ...o,
    root: ctx.paths,
    id,
    ref: image.name,
    image: image.config.config,
    env,
    mounts,
    lowerdirs: (paths) => (snapshotter === 'stargz' ? lazyLayers(ctx, image, paths.layers, o) : unpackedLayers(ctx, image, o.signal)),
  });
  return { ...result, snapshotter, image: image.name };
}

/** `--rootfs`: `dir` is the root filesystem; there is no image, so the command line is the command. */
async function runRootfs(ctx: Context, dir: string, id: string, o: Omit<RunOptions, 'env' | 'mounts'> & Pick<ContainerOptions, 'env' | 'mounts'>): Promise<RunResult> {
  if (o.snapshotter !== undefined || o.platform !== undefined) throw invalidArgument('--rootfs runs a directory: --snapshotter and --platform do not apply');
  if (!o.args || o.args.length === 0) throw invalidArgument(`--rootfs ${dir}: give the command to run after the container ID (a directory has no image config)`);
  const result = await runInContainer({ ...o, root: ctx.paths, id, ref: dir, image: undefined, lowerdirs: [], rootfsDir: dir });
  return { ...result, snapshotter: 'rootfs', image: dir };
}

/** The overlayfs snapshotter needs every layer blob in the store. */
async function requireFullLayers(ctx: Context, image: StoredImage): Promise<void> {
  const store = await ctx.store();
  for (const layer of image.manifest.layers) {
    if (!(await store.has(layer.digest))) {
      throw invalidArgument(
        `image ${image.name}: layer ${layer.digest} is not in the store (the image was rpulled); use --snapshotter stargz, or image pull it first`,
      );
    }
  }
}

/** Each layer's snapshot, held (so `image prune` keeps it) until the container's rootfs is unmounted. */
async function unpackedLayers(ctx: Context, image: StoredImage, signal: AbortSignal | undefined): Promise<LayerDirs> {
  const used: UsedSnapshot[] = [];
  const release = async () => void (await Promise.all(used.map((u) => u.release())));
  try {
    for (const layer of image.manifest.layers) used.push(await useSnapshot(ctx, layer, signal));
  } catch (e) {
    await release();
    throw e;
  }
  return { lowerdirs: used.map((u) => u.dir).reverse(), release };
}

async function lazyLayers(ctx: Context, image: StoredImage, layersDir: string, o: RunOptions): Promise<LayerDirs> {
  const kept = image.record && whyNoKeeper(o) === undefined ? await keptLayers(ctx, image, image.record, o) : undefined;
  if (kept) return kept;
  const { registry, noBackgroundFetch, cacheMaxBytes, skipContentVerify, onAccess, onWarning, signal } = o;
  const mounted = await mountImageLayers(ctx, image.manifest.layers, image.record, layersDir, {
    registry,
    noBackgroundFetch,
    cacheMaxBytes,
    skipContentVerify,
    onAccess,
    onWarning,
    signal,
  });
  return { lowerdirs: mounted.lowerdirs, release: () => mounted.unmount() };
}

/**
 * The layers as the root's keeper serves them (layer-keeper.ts): lazy ones at its mounts (made now when an
 * rpull did not), the others unpacked; undefined when no keeper runs or it could not serve them (then this
 * process serves them, as without a keeper). Nothing to release: the keeper keeps them for the next run.
 */
async function keptLayers(ctx: Context, image: StoredImage, record: LazyImageRecord, o: RunOptions): Promise<LayerDirs | undefined> {
  let dirs: Map<string, string> | undefined;
  try {
    dirs = await keptLayerDirs(ctx.paths, record, image.manifest.layers, registryAccess(o.registry, record.credentials));
  } catch (e) {
    o.onWarning?.(`the keeper could not serve the lazy layers (${e instanceof Error ? e.message : String(e)}); this process serves them`);
    return undefined;
  }
  if (!dirs) return undefined;
  const lowerdirs: string[] = [];
  for (const layer of image.manifest.layers) lowerdirs.push(dirs.get(layer.digest) ?? (await ensureSnapshot(ctx, layer, o.signal)));
  return { lowerdirs: lowerdirs.reverse(), release: async () => undefined };
}
