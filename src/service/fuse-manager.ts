// The fuse manager: the process that holds the FUSE sessions of the snapshotter service's lazy layers, apart
// from the gRPC side, so that a restart, an upgrade or a crash of the service leaves running containers
// reading. It runs a layer service and answers its RemoteLayers port on a unix socket (fuse-manager-protocol.ts).
// It stays up when its client goes away; it ends on `shutdown`, or on SIGTERM/SIGINT (unmounting all:
// a host shutting down). Started by the service when its socket does not answer (fuse-manager-client.ts).
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { Writable } from 'node:stream';
import { unavailable } from '../errors.js';
import { cleanupStaleMounts } from '../fuse/stale-mounts.js';
import { claimSocketPath } from '../host/unix-socket.js';
import { RootLayout } from '../store/root-layout.js';
import { warmRegistryCode, warmTocCode } from './code-warmup.js';
import { collectSoon } from '../host/garbage-collector.js';
import { CriKeychain, keychainFile } from './cri-keychain.js';
import { LayerService, type LayerServiceOptions } from './layer-service.js';
import { loggerFor, type Logger } from './logger.js';
import { trimWhenQuiet } from './quiet-trim.js';
import { encodeLine, errorResponse, LineSplitter, managerSocket, mountItems, type ManagerMethods, type ManagerSettings, type MethodName, type Request } from './fuse-manager-protocol.js';

/**
 * How long every layer the service serves must be quiet (no mount, prefetch or read) before background fetch
 * runs: long enough that it does not compete with containers starting (a start reads in bursts with pauses
 * of up to a few hundred ms), short enough that layers become local soon after. The reference waits 5 s.
 */
export const SERVICE_BACKGROUND_QUIET_MS = 1_000;

/** The layer service options of `settings`. */
export function layerOptions(settings: ManagerSettings, logger: Logger): LayerServiceOptions {
  const paths = new RootLayout(settings.root);
  return {
    paths,
    ...(settings.criKeychain ? { keychain: new CriKeychain(keychainFile(paths)) } : {}),
    ...(settings.noBackgroundFetch ? { noBackgroundFetch: true } : {}),
    ...(settings.skipContentVerify ? { skipContentVerify: true } : {}),
    ...(settings.requireTocDigest ? { requireTocDigest: true } : {}),
    ...(settings.cacheMaxBytes !== undefined ? { cacheMaxBytes: settings.cacheMaxBytes } : {}),
    ...(settings.hostsDir !== undefined ? { hostsDir: settings.hostsDir } : {}),
    backgroundQuietMs: SERVICE_BACKGROUND_QUIET_MS,
    startOnCheck: true, // every layer the service checks, it mounts next
    onWarning: (line) => logger.warn(line),
  };
}

/**
 * Run the fuse manager (the CLI's hidden `snapshotter fuse-manager`) until it is shut down, logging JSON
 * lines to `log` (default stderr). It loads only what serving layers needs (no gRPC, no metrics).
 */
export async function serveFuseManager(options: { settings: ManagerSettings; logLevel?: string; log?: Pick<Writable, 'write'> }): Promise<void> {
  await runFuseManager(options.settings, loggerFor(options.logLevel, options.log));
}

/** Run the manager until it is shut down; resolves then. */
export async function runFuseManager(settings: ManagerSettings, logger: Logger): Promise<void> {
  const options = layerOptions(settings, logger);
  const socket = managerSocket(options.paths);
  // mounts a crashed manager left are dead ("transport endpoint is not connected"): detach them, so their
  // directories can be served again on first use
  for (const dir of await cleanupStaleMounts(options.paths.snapshotter)) logger.info('detached a dead mount of a previous manager', { dir });
  const layers = new LayerService(options);
  // before answering: the first Prepare then parses its TOC with compiled code, not cold (code-warmup.ts)
  if (settings.warmUp !== 'none') logger.debug('code warmed up', { ms: Math.round(warmTocCode()) });
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const clients = new Set<Socket>();
  let stopping: Promise<void> | undefined;
  /** Stop listening and unmount everything (idempotent); the process ends once `finish` runs. */
  const unmountAll = () =>
    (stopping ??= (async () => {
      clearInterval(trimmer);
      server.close();
      logger.info('fuse manager stopping: unmounting its layers', { layers: layers.servedDirs().length });
      await layers.close((dir, step) => logger.debug('unmount', { dir, step }));
      await rm(socket, { force: true });
      logger.info('fuse manager stopped');
    })());
  const finish = async () => {
    await unmountAll();
    for (const c of clients) c.end(); // after the answers already written
    resolveDone();
  };
  /** No new layer once the manager is stopping: it would outlive the unmount of everything. */
  const refuseWhenStopping = () => {
    if (stopping) throw unavailable('the fuse manager is stopping');
  };
  const handlers: { [M in MethodName]: (p: ManagerMethods[M]['params']) => Promise<ManagerMethods[M]['result']> } = {
    check: (p) => layers.check(p.layer),
    warm: async (p) => {
      layers.warm(p.layers);
      return null;
    },
    mount: async (p) => {
      refuseWhenStopping();
      await layers.mount(mountItems(p.items));
      return null;
    },
    hand: async (p) => {
      refuseWhenStopping();
      layers.mount(mountItems(p.items)).catch((e: unknown) => logger.warn('layers handed over were not mounted', { error: e instanceof Error ? e.message : String(e) }));
      return { pid: process.pid };
    },
    prefetch: async (p) => {
      refuseWhenStopping();
      layers.prefetchEarly(p.layer, p.span);
      return null;
    },
    unmount: async (p) => {
      await layers.unmount(p.dir);
      return null;
    },
    stats: () => layers.report(),
    status: async () => ({ pid: process.pid, served: layers.servedDirs(), mounting: layers.mountingDirs() }),
    shutdown: async () => {
      await unmountAll(); // the answer means: nothing is mounted any more
      setImmediate(() => void finish());
      return null;
    },
  };
  const server = createServer((conn) => serveConnection(conn, handlers, clients, logger));
  const trimmer = trimWhenQuiet(layers, logger);
  await listen(server, socket);
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void finish());
  logger.info('fuse manager serving', { socket, pid: process.pid });
  // beside the first requests (a service starts well before its first Prepare, as a rule)
  if (settings.warmUp !== 'none') {
    void warmRegistryCode().then(({ ms, ok }) => {
      logger.debug('registry code warmed up', { ms: Math.round(ms), ok });
      collectSoon(); // the warm-ups' made-up TOC and request, and the start-up's own garbage
    });
  }
  await done;
}

function serveConnection(conn: Socket, handlers: Record<string, (p: never) => Promise<unknown>>, clients: Set<Socket>, logger: Logger): void {
  clients.add(conn);
  conn.setEncoding('utf8');
  const lines = new LineSplitter();
  conn.on('data', (chunk: string) => {
    let received: string[];
    try {
      received = lines.push(chunk);
    } catch (e) {
      logger.warn('fuse manager client sent a bad message', { error: (e as Error).message });
      conn.destroy();
      return;
    }
    for (const line of received) {
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        conn.destroy();
        return;
      }
      const handler = handlers[req.method];
      const answer = handler ? handler(req.params as never) : Promise.reject(new Error(`unknown method ${String(req.method)}`));
      answer.then(
        (result) => conn.writable && conn.write(encodeLine({ id: req.id, result: result ?? null })),
        (e: unknown) => conn.writable && conn.write(encodeLine(errorResponse(req.id, e))),
      );
    }
  });
  conn.on('error', () => undefined);
  conn.on('close', () => clients.delete(conn));
}

/** Listen on `socket` (a stale file from a dead manager is replaced, a live one refused), owner-only. */
async function listen(server: Server, socket: string): Promise<void> {
  await claimSocketPath(socket, 0o700);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  await chmod(socket, 0o600);
}
