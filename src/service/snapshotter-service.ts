// The containerd snapshotter service (`ctr-remote snapshotter serve`): the stargz snapshotter of a root,
// its remote layers served by a RemoteLayers (the fuse manager process, or this process's own layer
// service), answering containerd's Snapshots API on a unix socket. containerd registers it as a proxy
// snapshotter; every fallback of a remote snapshot is logged with its reason and counted.
import { chmod, mkdir, rm } from 'node:fs/promises';
import * as grpc from '@grpc/grpc-js';
import { isCtrError, unavailable, type ErrorCode } from '../errors.js';
import { claimSocketPath } from '../host/unix-socket.js';
import { ensurePrivateDir } from '../store/private-dirs.js';
import type { RootLayout } from '../store/root-layout.js';
import { StargzSnapshotter, type RemoteLayers } from '../snapshot/stargz-snapshotter.js';
import { addCriImageProxy } from './cri-image-proxy.js';
import type { CriKeychain } from './cri-keychain.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { snapshotsHandlers, snapshotsServiceDefinition } from './snapshots-grpc.js';

/** Options of startSnapshotterService. */
export interface SnapshotterServiceOptions {
  /** The unix socket to listen on (its directory is created 0711, the socket is 0600). */
  address: string;
  paths: RootLayout;
  /** Who serves the remote layers. */
  remote: RemoteLayers;
  logger: Logger;
  /** Where the RPCs, remote snapshots and fallbacks are counted. Default: not counted (only logged). */
  metrics?: ServiceMetrics;
  /** Also answer kubelet's ImageService, forwarded to containerd's CRI socket, keeping pull credentials. Default off. */
  criProxy?: { upstream: string; keychain: CriKeychain };
}

/** Counters of the running service. */
export interface ServiceCounters {
  /** Remote snapshots made (layers mounted lazily). */
  remoteSnapshots: number;
  /** Fallbacks to a normal (downloading) Prepare, by reason class. */
  fallbacks: Record<string, number>;
}

/** A running service. */
export interface RunningSnapshotterService {
  snapshotter: StargzSnapshotter;
  counters: ServiceCounters;
  /** Stop answering RPCs (in-flight ones finish) and remove the socket; the remote layers are the caller's. */
  stop(): Promise<void>;
}

/** Start the service; it answers once this resolves. */
export async function startSnapshotterService(options: SnapshotterServiceOptions): Promise<RunningSnapshotterService> {
  const { address, paths, remote, logger } = options;
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await ensurePrivateDir(paths.snapshotter);
  const counters: ServiceCounters = { remoteSnapshots: 0, fallbacks: {} };
  const snapshotter = await StargzSnapshotter.openStargz(paths.snapshotter, {
    remote,
    mountOnPrepare: true,
    onRemote: (target, layer, timing) => {
      counters.remoteSnapshots++;
      options.metrics?.remoteSnapshots.inc();
      logger.info('remote snapshot', { key: target, ref: layer.ref, digest: layer.digest, ...timing });
    },
    onMounted: (target, layer, ms, error) => {
      if (error === undefined) logger.info('remote layer mounted', { key: target, digest: layer.digest, ms });
      else logger.warn('remote layer not mounted yet; mounted on first use', { key: target, digest: layer.digest, ms, error: error instanceof Error ? error.message : String(error) });
    },
    onFallback: (target, layer, error) => {
      const why = fallbackClass(error);
      counters.fallbacks[why] = (counters.fallbacks[why] ?? 0) + 1;
      options.metrics?.fallbacks.inc({ reason: why });
      const message = error instanceof Error ? error.message : String(error);
      logger.warn('remote snapshot fell back to a normal layer: containerd downloads it', { key: target, ref: layer.ref, digest: layer.digest, reason: why, error: message });
    },
  });
  await claimSocketPath(address);
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 16 << 20 });
  const observe = options.metrics
    ? (method: string, code: string, seconds: number) => {
        options.metrics!.rpcSeconds.observe({ method, code }, seconds);
        options.metrics!.rpcsAnswered++;
      }
    : undefined;
  server.addService(snapshotsServiceDefinition(), snapshotsHandlers(snapshotter, { logger, ...(observe ? { observe } : {}) }));
  const closeProxy = options.criProxy ? addCriImageProxy(server, { ...options.criProxy, logger }) : undefined;
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(unavailable(`cannot listen on ${address}: ${e.message}`)) : resolve()));
  });
  await chmod(address, 0o600);
  logger.info('serving', { address, root: paths.dir });
  return {
    snapshotter,
    counters,
    stop: async () => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      closeProxy?.();
      await rm(address, { force: true });
    },
  };
}

const FALLBACK_CLASS: Partial<Record<ErrorCode, string>> = {
  Unsupported: 'not-estargz',
  FailedPrecondition: 'unverifiable',
  DigestMismatch: 'verification',
  LimitExceeded: 'limit',
  Unauthorized: 'unauthorized',
  NotFound: 'not-found',
  InvalidArgument: 'invalid',
};

/** The class of a fallback's error, for counting (its message is logged): by its code; `unreachable` for the rest. */
export function fallbackClass(error: unknown): string {
  return (isCtrError(error) && FALLBACK_CLASS[error.code]) || 'unreachable';
}
