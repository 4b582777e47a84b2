// `ctr-remote snapshotter serve`, as a library call: read the config, build the layer service and the
// snapshotter service of the root, answer until told to stop. How it stops decides what happens to the
// lazy mounts: `keep` (SIGTERM: a restart or an upgrade) leaves them to whoever holds them, `teardown`
// (SIGINT, `snapshotter stop --unmount`) unmounts everything.
import { resolve } from 'node:path';
import { RootLayout } from '../store/root-layout.js';
import { LayerService } from './layer-service.js';
import type { Writable } from 'node:stream';
import { Logger, parseLogLevel } from './logger.js';
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
  /** Stop: `keep` leaves the lazy mounts to their holder, `teardown` unmounts them. */
  stop(mode: 'keep' | 'teardown'): Promise<void>;
}

/** Start the service; resolves once it answers on its socket. */
export async function serveSnapshotter(options: ServeOptions): Promise<Serving> {
  const logger = new Logger(parseLogLevel(options.logLevel ?? 'info') ?? 'info', options.log ?? process.stderr);
  const config = await loadServiceConfig(resolve(options.config ?? DEFAULT_CONFIG), { optional: options.config === undefined });
  for (const note of config.notes) logger.warn(note);
  const paths = new RootLayout(resolve(options.root ?? DEFAULT_SERVICE_ROOT));
  const cacheMaxBytes = options.cacheMaxBytes ?? config.cacheMaxBytes;
  const layers = new LayerService({
    paths,
    noBackgroundFetch: config.noBackgroundFetch,
    skipContentVerify: config.disableVerification,
    requireTocDigest: !config.allowNoVerification,
    ...(cacheMaxBytes !== undefined ? { cacheMaxBytes } : {}),
    onWarning: (line) => logger.warn(line),
  });
  let service: RunningSnapshotterService;
  try {
    service = await startSnapshotterService({ address: resolve(options.address ?? DEFAULT_ADDRESS), paths, remote: layers, logger });
  } catch (e) {
    await layers.close();
    throw e;
  }
  return {
    service,
    config,
    stop: async (mode) => {
      await service.stop();
      await layers.close();
      logger.info('stopped', { mode });
    },
  };
}
