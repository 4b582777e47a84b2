// `ctr-remote snapshotter serve`, as a library call: read the config, start (or find) the fuse manager that
// holds the lazy mounts, and answer containerd on the service socket until told to stop. How it stops
// decides what happens to the lazy mounts: `keep` (SIGTERM: a restart or an upgrade) leaves them with the
// fuse manager, so running containers keep reading; `teardown` (SIGINT, `snapshotter stop --unmount`)
// unmounts everything and ends the manager. With `[fuse_manager] enable = false` the layers are served in
// this process and end with it.
import { readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { unavailable } from '../errors.js';
import { writeFileAtomic } from '../host/atomic-file.js';
import { notifySystemdReady } from '../host/systemd-notify.js';
import { isOwnerAlive, parseOwner, selfOwner } from '../host/process-owner.js';
import type { RemoteLayerRef } from '../snapshot/remote-labels.js';
import { RootLayout } from '../store/root-layout.js';
import { CriKeychain, keychainFile } from './cri-keychain.js';
import { FuseManagerClient } from './fuse-manager-client.js';
import { layerOptions } from './fuse-manager.js';
import type { ManagerSettings } from './fuse-manager-protocol.js';
import { LayerService } from './layer-service.js';
import { loggerFor, type Logger } from './logger.js';
import { trimWhenQuiet } from './quiet-trim.js';
import { collectSoon } from '../host/garbage-collector.js';
import { ServiceMetrics, serveMetrics, type StatsSource } from './metrics.js';
import { loadServiceConfig, type ServiceConfig } from './service-config.js';
import { startSnapshotterService, type RunningSnapshotterService } from './snapshotter-service.js';

/** The reference daemon's defaults. */
export const DEFAULT_ADDRESS = '/run/containerd-stargz-grpc/containerd-stargz-grpc.sock';
export const DEFAULT_SERVICE_ROOT = '/var/lib/containerd-stargz-grpc';
export const DEFAULT_CONFIG = '/etc/containerd-stargz-grpc/config.toml';

/** Options of serveSnapshotter. */
export interface ServeOptions {
  /** Default DEFAULT_ADDRESS. */
  address?: string;
  /** Default DEFAULT_SERVICE_ROOT. */
  root?: string;
  /** The config file; default DEFAULT_CONFIG (whose absence means the defaults; a given file must exist). */
  config?: string;
  /** `--cache-max-bytes`, over the config's. */
  cacheMaxBytes?: number;
  /** `--log-level` (the reference's names). Default info. */
  logLevel?: string;
  /** Where the JSON log lines go. Default stderr. */
  log?: Pick<Writable, 'write'>;
}

/** A serving snapshotter service. */
export interface Serving {
  service: RunningSnapshotterService;
  config: ServiceConfig;
  /** Stop: `keep` leaves the lazy mounts to the fuse manager, `teardown` unmounts them. */
  stop(mode: 'keep' | 'teardown'): Promise<void>;
}

/** The RemoteLayers of a service, its numbers, and how each way of stopping treats it. */
interface Layers {
  remote: FuseManagerClient | LayerService;
  stats: StatsSource;
  stop(mode: 'keep' | 'teardown'): Promise<void>;
}

/** Start the service; resolves once it answers on its socket. */
export async function serveSnapshotter(options: ServeOptions): Promise<Serving> {
  const logger = loggerFor(options.logLevel, options.log);
  const config = await loadServiceConfig(resolve(options.config ?? DEFAULT_CONFIG), { optional: options.config === undefined });
  for (const note of config.notes) logger.warn(note);
  const paths = new RootLayout(resolve(options.root ?? DEFAULT_SERVICE_ROOT));
  const cacheMaxBytes = options.cacheMaxBytes ?? config.cacheMaxBytes;
  const settings: ManagerSettings = {
    root: paths.dir,
    noBackgroundFetch: config.noBackgroundFetch,
    skipContentVerify: config.disableVerification,
    requireTocDigest: !config.allowNoVerification,
    ...(cacheMaxBytes !== undefined ? { cacheMaxBytes } : {}),
    ...(config.hostsDir !== undefined ? { hostsDir: resolve(config.hostsDir) } : {}),
    ...(config.criKeychain ? { criKeychain: true } : {}),
  };
  const layers = config.fuseManager ? managedLayers(settings, options.logLevel) : ownLayers(settings, logger);
  // the fuse manager (if none runs yet) starts now, beside this process's own start, and the socket answers
  // once it is up: the first Prepare never waits for a manager starting; one that cannot start is retried
  // on first use
  const managerUp = layers.remote instanceof FuseManagerClient
    ? layers.remote.connect().catch((e: unknown) => logger.warn('cannot start the fuse manager yet; retried on first use', { error: (e as Error).message }))
    : undefined;
  const metrics = new ServiceMetrics(layers.stats);
  // with a fuse manager, this process serves RPCs only: it trims after them (its layers' process trims its own)
  const rpcTrimmer = config.fuseManager ? trimWhenQuiet({ activity: async () => String(metrics.rpcsAnswered) }, logger) : undefined;
  let service: RunningSnapshotterService;
  let metricsServer: Server | undefined;
  try {
    await managerUp;
    service = await startSnapshotterService({
      address: resolve(options.address ?? DEFAULT_ADDRESS), paths, remote: layers.remote, logger, metrics,
      ...(config.criKeychain ? { criProxy: { upstream: config.criKeychain.imageServicePath, keychain: new CriKeychain(keychainFile(paths)) } } : {}),
    });
    if (config.metricsAddress) {
      const served = await serveMetrics(config.metricsAddress, metrics).catch(async (e: unknown) => {
        await service.stop();
        throw e;
      });
      metricsServer = served.server;
      logger.info('metrics', { address: config.metricsAddress, port: served.port });
    }
  } catch (e) {
    clearInterval(rpcTrimmer);
    await layers.stop('keep');
    throw e;
  }
  await writeFileAtomic(pidFile(paths), `${selfOwner()}\n`);
  const notified = await notifySystemdReady();
  if (notified) logger.warn(notified);
  void restoreRemoteSnapshots(service, layers.remote, logger);
  // loading the gRPC and protobuf code and the service definitions left ~7 MiB of garbage and a grown
  // young generation, which an idle service keeps (the quiet trim comes 5 s after the last RPC)
  collectSoon();
  return {
    service,
    config,
    stop: async (mode) => {
      clearInterval(rpcTrimmer);
      metricsServer?.close();
      await service.stop();
      await layers.stop(mode);
      await rm(pidFile(paths), { force: true });
      logger.info('stopped', { mode });
    },
  };
}

/** Where a serving process of a root names itself ("<pid>.<start time>"). */
const pidFile = (paths: RootLayout) => join(paths.snapshotter, 'serve.pid');

/** What `snapshotter stop` did. */
export interface StopResult {
  /** The serving process stopped, if one ran. */
  stoppedPid?: number;
  /** The fuse manager was shut down with its mounts. */
  managerStopped: boolean;
}

/**
 * `snapshotter stop`: end the service of `root` as its signals would (SIGTERM keeps the lazy mounts,
 * SIGINT with `unmount` takes them down) and wait for it; with `unmount`, a fuse manager left running by an
 * earlier SIGTERM is shut down too, its mounts with it.
 */
export async function stopSnapshotter(options: { root?: string; unmount?: boolean; timeoutMs?: number }): Promise<StopResult> {
  const paths = new RootLayout(resolve(options.root ?? DEFAULT_SERVICE_ROOT));
  const result: StopResult = { managerStopped: false };
  const manager = new FuseManagerClient({ root: paths.dir });
  const managerRan = options.unmount === true && (await manager.connectIfRunning());
  manager.close();
  const owner = (await readFile(pidFile(paths), 'utf8').catch(() => '')).trim();
  if (owner && isOwnerAlive(owner)) {
    const pid = parseOwner(owner)!.pid;
    process.kill(pid, options.unmount ? 'SIGINT' : 'SIGTERM');
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    while (isOwnerAlive(owner)) {
      if (Date.now() > deadline) throw unavailable(`the service (pid ${pid}) did not stop within ${(options.timeoutMs ?? 60_000) / 1000} s`);
      await sleep(50);
    }
    result.stoppedPid = pid;
  }
  // the service's SIGINT ends the manager; one left by an earlier SIGTERM (or whose service died) is ended here
  if (managerRan) await manager.shutdownIfRunning();
  result.managerStopped = managerRan;
  return result;
}

function managedLayers(settings: ManagerSettings, logLevel: string | undefined): Layers {
  const client = new FuseManagerClient(settings, logLevel ? { logLevel } : {});
  return {
    remote: client,
    stats: () => client.stats(),
    stop: async (mode) => {
      if (mode === 'teardown') await client.shutdownIfRunning().catch(() => client.close());
      else client.close();
    },
  };
}

function ownLayers(settings: ManagerSettings, logger: Logger): Layers {
  const service = new LayerService(layerOptions(settings, logger));
  const trimmer = trimWhenQuiet(service, logger);
  return {
    remote: service,
    stats: () => service.report(),
    stop: async () => {
      clearInterval(trimmer);
      await service.close();
    },
  };
}

/**
 * Serve every remote snapshot of the metadata again (after a reboot or a crash of the fuse manager; the ones
 * it still serves are left as they are), in the background: a layer that cannot be served now (its kept TOC
 * tail is gone and the registry is down) is logged and served on first use instead; start-up never waits.
 */
async function restoreRemoteSnapshots(service: RunningSnapshotterService, remote: Layers['remote'], logger: Logger): Promise<void> {
  let items: { dir: string; layer: RemoteLayerRef }[];
  try {
    items = await service.snapshotter.remoteSnapshots();
  } catch (e) {
    logger.warn('cannot read the remote snapshots to restore', { error: (e as Error).message });
    return;
  }
  let restored = 0;
  for (const item of items) {
    try {
      await remote.mount([item]);
      restored++;
    } catch (e) {
      logger.warn('remote snapshot not restored at start; it is served on first use', { dir: item.dir, digest: item.layer.digest, error: (e as Error).message });
    }
  }
  if (items.length > 0) logger.info('remote snapshots restored', { restored, total: items.length });
}
