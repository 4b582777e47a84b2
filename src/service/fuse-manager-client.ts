// The snapshotter service's side of the fuse manager: the RemoteLayers port, each call a request over the
// manager's socket. When the socket does not answer (first start, or the manager died), the manager is
// started: a detached process in its own session, logging to `<root>/snapshotter/fuse-manager.log`, so it
// outlives this process. A connection that breaks fails the requests in flight (Unavailable); the next
// request connects again, starting a new manager if need be (which detaches the dead mounts of the old one).
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { unavailable } from '../errors.js';
import { connectUnix } from '../host/unix-socket.js';
import type { PrefetchSpan } from '../estargz/prefetch-span.js';
import type { RemoteLayerRef } from '../snapshot/remote-labels.js';
import type { RemoteLayers } from '../snapshot/stargz-snapshotter.js';
import { withLock } from '../store/file-lock.js';
import { RootLayout } from '../store/root-layout.js';
import { withSemiSpaceCap } from '../host/young-generation.js';
import { selfArgv } from '../host/self-command.js';
import { encodeLine, LineSplitter, managerSocket, mountItems, responseError, type ManagerMethods, type ManagerSettings, type ManagerStats, type MethodName, type MountItem, type Response } from './fuse-manager-protocol.js';

/**
 * glibc's mmap threshold for the manager, fixed at 1 MiB: the buffers of 1 MiB and more it makes and drops
 * all day (range bodies, decoded members, chunks read back from the disk cache) get mappings of their own,
 * unmapped when freed, instead of coming from arenas that keep what was freed (glibc raises its threshold to
 * the largest block freed, so after the first 4 MiB chunk they all came from the arenas). With three images
 * served until local: steady RSS 160 MiB against 204, peak 311 against 344 (docs/DECISIONS.md, "Memory").
 */
const MANAGER_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(1 << 20) };

/** How long a started manager may take to answer. */
const START_TIMEOUT_MS = 30_000;

/** How to start the manager: this program with `snapshotter fuse-manager` (the CLI's hidden command). */
export interface ManagerCommand {
  /** Executable and arguments before ours. Default: this process's node, its exec options and its script. */
  argv?: string[];
  /** The manager's `--log-level`. Default info. */
  logLevel?: string;
  /**
   * Start a manager when none answers. Default true. False: a client of one already running only (its
   * requests fail Unavailable when none answers, also after it went away), e.g. to let it go of layers.
   */
  start?: boolean;
}

/** A client of the fuse manager of a root (started on demand). */
export class FuseManagerClient implements RemoteLayers {
  private conn: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly paths: RootLayout;

  constructor(
    private readonly settings: ManagerSettings,
    private readonly command: ManagerCommand = {},
  ) {
    this.paths = new RootLayout(settings.root);
  }

  check(layer: RemoteLayerRef): Promise<RemoteLayerRef> {
    return this.call('check', { layer });
  }

  warm(layers: readonly RemoteLayerRef[]): void {
    this.call('warm', { layers: [...layers] }).catch(() => undefined); // a hint: nothing waits for it
  }

  async mount(items: readonly MountItem[]): Promise<void> {
    await this.call('mount', { items: mountItems(items) });
  }

  /** Have the manager mount `items` without waiting for the mounts (a later mount of a dir joins its mount); its pid. */
  async hand(items: readonly MountItem[]): Promise<number> {
    const answer = await this.call('hand', { items: mountItems(items) });
    return answer?.pid ?? (await this.status()).pid; // a keeper started by an earlier version answers null
  }

  /** Have the manager request a layer's prefetch region ahead of its mount (a hint: nothing waits for it). */
  prefetch(layer: RemoteLayerRef, span: PrefetchSpan): void {
    this.call('prefetch', { layer, span }).catch(() => undefined);
  }

  async unmount(dir: string): Promise<void> {
    await this.call('unmount', { dir });
  }

  /** The manager's counters; undefined when no manager runs (asking never starts one). */
  async stats(): Promise<ManagerStats | undefined> {
    if ((!this.conn || this.conn.destroyed) && !(await this.connectIfRunning())) return undefined;
    return this.call('stats', {});
  }

  status(): Promise<{ pid: number; served: string[]; mounting?: string[] }> {
    return this.call('status', {});
  }

  /** Unmount everything, end the manager and disconnect. */
  async shutdown(): Promise<void> {
    await this.call('shutdown', {});
    this.close();
  }

  /** Shut the manager down if one runs (never starting one for that); true when one did. */
  async shutdownIfRunning(): Promise<boolean> {
    if ((!this.conn || this.conn.destroyed) && !(await this.connectIfRunning())) return false;
    await this.shutdown();
    return true;
  }

  /** Disconnect; the manager and its mounts stay. */
  close(): void {
    this.conn?.destroy();
    this.conn = undefined;
  }

  /** Connect when a manager answers (without starting one); false when none does. */
  async connectIfRunning(): Promise<boolean> {
    const conn = await connectUnix(managerSocket(this.paths));
    if (conn) this.attach(conn);
    return conn !== undefined;
  }

  /** Connect now (starting the manager when it does not answer). */
  async connect(): Promise<void> {
    await this.connection();
  }

  /**
   * Send a request; its answer. Connected, the request is written before this returns (a hint sent just before
   * a long synchronous task, such as parsing a TOC, is not held back until that task ends).
   */
  private call<M extends MethodName>(method: M, params: ManagerMethods[M]['params']): Promise<ManagerMethods[M]['result']> {
    if (this.conn && !this.conn.destroyed) return this.send(this.conn, method, params);
    return this.connection().then((conn) => this.send(conn, method, params));
  }

  private send<M extends MethodName>(conn: Socket, method: M, params: ManagerMethods[M]['params']): Promise<ManagerMethods[M]['result']> {
    if (conn.destroyed) return Promise.reject(unavailable('the fuse manager closed the connection'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      conn.write(encodeLine({ id, method, params }));
    });
  }

  private connection(): Promise<Socket> {
    if (this.conn && !this.conn.destroyed) return Promise.resolve(this.conn);
    this.connecting ??= this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<Socket> {
    const socket = managerSocket(this.paths);
    let conn = await answering(socket);
    if (!conn && this.command.start === false) throw unavailable(`no fuse manager answers on ${socket}`);
    if (!conn) {
      // one starter per root: a second service racing to start it finds the first one's manager
      mkdirSync(this.paths.snapshotter, { recursive: true, mode: 0o700 });
      chmodSync(this.paths.snapshotter, 0o700); // a root made by an earlier version has it wider
      conn = await withLock(join(this.paths.snapshotter, 'fuse-manager.lock'), async () => (await answering(socket)) ?? this.start(socket));
    }
    this.attach(conn);
    return conn;
  }

  private async start(socket: string): Promise<Socket> {
    let exited: string | undefined;
    const log = openSync(join(this.paths.snapshotter, 'fuse-manager.log'), 'a', 0o600);
    try {
      const argv = withSemiSpaceCap(this.command.argv ?? selfArgv(), process.env['NODE_OPTIONS'] ?? '');
      const level = this.command.logLevel ? ['--log-level', this.command.logLevel] : [];
      const child = spawn(argv[0]!, [...argv.slice(1), 'snapshotter', 'fuse-manager', ...level, '--settings', JSON.stringify(this.settings)], {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...MANAGER_MALLOC_ENV, ...process.env }, // a value the operator set wins
      });
      child.once('exit', (code, signal) => (exited = `exited ${signal ?? code}`));
      child.once('error', (e) => (exited = e.message));
      child.unref();
    } finally {
      closeSync(log);
    }
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const conn = await connectUnix(socket);
      if (conn) return conn;
      if (exited !== undefined) throw unavailable(`the fuse manager ${exited} before it answered on ${socket}; see ${join(this.paths.snapshotter, 'fuse-manager.log')}`);
      if (Date.now() > deadline) throw unavailable(`the fuse manager did not answer on ${socket} within ${START_TIMEOUT_MS / 1000} s; see ${join(this.paths.snapshotter, 'fuse-manager.log')}`);
      await sleep(10); // a connect attempt costs microseconds; the first answer comes ~0.2 s after the spawn
    }
  }

  private attach(conn: Socket): void {
    this.conn = conn;
    conn.setEncoding('utf8');
    const lines = new LineSplitter();
    conn.on('data', (chunk: string) => {
      for (const line of lines.push(chunk)) {
        const r = JSON.parse(line) as Response;
        const p = this.pending.get(r.id);
        if (!p) continue;
        this.pending.delete(r.id);
        if ('error' in r) p.reject(responseError(r));
        else p.resolve(r.result);
      }
    });
    conn.on('error', () => undefined);
    conn.on('close', () => {
      if (this.conn === conn) this.conn = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(unavailable('the fuse manager closed the connection'));
      }
    });
  }
}

/**
 * A connection to the manager listening on `socket`, if one does. With no socket file none does, and that is
 * known without a turn of the event loop: a first start then spawns the manager before its caller goes on
 * (rpull loads its modules next, which holds the loop for tens of ms).
 */
function answering(socket: string): Promise<Socket | undefined> {
  return existsSync(socket) ? connectUnix(socket) : Promise.resolve(undefined);
}
