// What the fuse manager's clients (the snapshotter service; the CLI's rpull, run, image rm and prune, whose
// keeper is the same program) say to it over its unix socket: one JSON object per line. A request names a
// method of the RemoteLayers port (check, warm, mount, unmount), of the keeper's handoff (hand, prefetch) or
// of the manager itself (stats, status, shutdown); the answer carries the same id and a result or an error
// with its code, so a CtrError crosses the socket with its code intact. Also what the manager is started
// with and where it listens. Pure: types, framing, encoding and the socket's path.
import { CtrError, isCtrError, type ErrorCode } from '../errors.js';
import type { PrefetchSpan } from '../estargz/prefetch-span.js';
import type { RemoteLayerRef } from '../snapshot/remote-labels.js';
import type { LayerServiceReport } from './layer-service.js';
import type { RootLayout } from '../store/root-layout.js';

/** What the manager is started with (JSON on its command line): the layer service's options that are data. */
export interface ManagerSettings {
  root: string;
  noBackgroundFetch?: boolean;
  skipContentVerify?: boolean;
  requireTocDigest?: boolean;
  cacheMaxBytes?: number;
  /** containerd's hosts directory for registry mirrors. */
  hostsDir?: string;
  /** Read the CRI keychain of the root for credentials. */
  criKeychain?: boolean;
  /**
   * What to warm up at start (code-warmup.ts): 'all' (default), the TOC code before answering and the
   * registry code after; a service starts well before its first Prepare. 'none' for the CLI's keeper,
   * started by an rpull that sends its layers' prefetch regions as soon as it answers: either warm-up
   * (~60 ms of the one thread each) held those requests back by as much, while a cold first request costs
   * ~5 ms more than a warm one.
   */
  warmUp?: 'all' | 'none';
}

/** The socket of the fuse manager of a root. */
export const managerSocket = (paths: RootLayout): string => `${paths.snapshotter}/fuse-manager.sock`;

/**
 * A layer to mount at `dir`. `prefetch`: the region rpull recorded, requested before the TOC is parsed (the
 * CLI's keeper; ServeItem.prefetch).
 */
export interface MountItem {
  dir: string;
  layer: RemoteLayerRef;
  prefetch?: PrefetchSpan;
}

/** The items as sent and as served: nothing but the fields the protocol names. */
export function mountItems(items: readonly MountItem[]): MountItem[] {
  return items.map(({ dir, layer, prefetch }) => ({ dir, layer, ...(prefetch ? { prefetch } : {}) }));
}

/** The methods and their parameters and results. */
export interface ManagerMethods {
  check: { params: { layer: RemoteLayerRef }; result: RemoteLayerRef };
  warm: { params: { layers: RemoteLayerRef[] }; result: null };
  mount: { params: { items: MountItem[] }; result: null };
  /** `mount` without waiting for it: answered (with the manager's pid) once the mounts are under way (a later mount of a dir joins its mount). */
  hand: { params: { items: MountItem[] }; result: { pid: number } | null }; // null: a manager of an earlier version
  /** Request a layer's prefetch region ahead of its mount (LayerService.prefetchEarly); answered at once. */
  prefetch: { params: { layer: RemoteLayerRef; span: PrefetchSpan }; result: null };
  unmount: { params: { dir: string }; result: null };
  stats: { params: Record<string, never>; result: ManagerStats };
  /** `mounting`: mounts under way (absent from a manager of an earlier version). */
  status: { params: Record<string, never>; result: { pid: number; served: string[]; mounting?: string[] } };
  /** Unmount everything and end the manager. */
  shutdown: { params: Record<string, never>; result: null };
}

export type MethodName = keyof ManagerMethods;

/** What the manager reports for metrics: its layer service's report. */
export type ManagerStats = LayerServiceReport;

export interface Request<M extends MethodName = MethodName> {
  id: number;
  method: M;
  params: ManagerMethods[M]['params'];
}

export type Response = { id: number; result: unknown } | { id: number; error: { code: ErrorCode; message: string } };

/** Largest line accepted (a batch of mounts of a very deep image stays far below). */
export const MAX_LINE = 4 << 20;

/** The line of a message. */
export function encodeLine(message: Request | Response): string {
  return `${JSON.stringify(message)}\n`;
}

/** The error of a failed request, as sent. */
export function errorResponse(id: number, e: unknown): Response {
  return { id, error: { code: isCtrError(e) ? e.code : 'Internal', message: e instanceof Error ? e.message : String(e) } };
}

/** The error a response carries, as a CtrError of its code. */
export function responseError(r: { error: { code: ErrorCode; message: string } }): CtrError {
  return new CtrError(r.error.code, r.error.message);
}

/** Splits a byte stream into lines (no line over MAX_LINE). */
export class LineSplitter {
  private buffered = '';

  /** The complete lines in `chunk` and what came before it; throws when a line grows over MAX_LINE. */
  push(chunk: string): string[] {
    this.buffered += chunk;
    const lines = this.buffered.split('\n');
    this.buffered = lines.pop() ?? '';
    if (this.buffered.length > MAX_LINE) throw new CtrError('LimitExceeded', `fuse manager message over ${MAX_LINE} bytes`);
    return lines.filter((l) => l !== '');
  }
}
