// containerd's Snapshots gRPC service (containerd.services.snapshots.v1) over a Snapshotter: each RPC
// decodes its request, calls the snapshotter and encodes the answer; errors travel as containerd's gRPC
// codes (NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, INVALID_ARGUMENT, UNAVAILABLE, UNIMPLEMENTED), the
// only ones containerd's errdefs turn back into typed errors. The `snapshotter` field of the requests is
// ignored: one socket serves one snapshotter. Keys are opaque (containerd sends `<namespace>/<n>/<key>`).
// https://github.com/containerd/containerd/blob/release/1.6/api/services/snapshots/v1/snapshots.proto
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { isCtrError, type ErrorCode } from '../errors.js';
import { snapshotFilter } from '../snapshot/list-filter.js';
import type { MountSpec, SnapshotInfo, SnapshotKind, Snapshotter } from '../snapshot/snapshotter.js';
import type { Logger } from './logger.js';

/** How many Infos go in one message of the List stream (containerd's own server sends ~100 at a time). */
const LIST_BATCH = 100;

/** The directory of our .proto files: `proto/` at the top of the package (from src/service or dist). */
function protoDir(): string {
  for (const up of [['..'], ['..', '..']]) {
    const dir = resolve(import.meta.dirname, ...up, 'proto');
    if (existsSync(join(dir, 'containerd'))) return dir;
  }
  throw new Error(`proto/ not found above ${import.meta.dirname}`);
}

/** The Snapshots service definition, loaded from proto/ (field names as in the .proto, int64 as numbers). */
export function snapshotsServiceDefinition(): grpc.ServiceDefinition {
  const def = protoLoader.loadSync('containerd/services/snapshots/v1/snapshots.proto', {
    includeDirs: [protoDir()],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    containerd: { services: { snapshots: { v1: { Snapshots: { service: grpc.ServiceDefinition } } } } };
  };
  return pkg.containerd.services.snapshots.v1.Snapshots.service;
}

/** Where each RPC is reported. */
interface RpcLog {
  logger: Logger;
  /** Told of every answered RPC: its method, gRPC code name and duration. */
  observe?: (method: string, code: string, seconds: number) => void;
}

type Labels = Record<string, string>;
interface Timestamp {
  seconds: number;
  nanos: number;
}
interface InfoMessage {
  name: string;
  parent: string;
  kind: string;
  created_at: Timestamp;
  updated_at: Timestamp;
  labels: Labels;
}

/** The handlers of the Snapshots service over `snapshotter`. */
export function snapshotsHandlers(snapshotter: Snapshotter, { logger, observe }: RpcLog): grpc.UntypedServiceImplementation {
  const unary = <Req, Res>(name: string, fn: (req: Req) => Promise<Res>, describe: (req: Req) => string) => {
    return (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => {
      const started = process.hrtime.bigint();
      fn(call.request).then(
        (res) => {
          const ms = elapsedMs(started);
          logger.debug('rpc', { method: name, subject: describe(call.request), ms });
          observe?.(name, 'OK', ms / 1000);
          callback(null, res);
        },
        (e: unknown) => {
          const status = toStatus(e);
          observe?.(name, grpc.status[status.code] ?? 'UNKNOWN', elapsedMs(started) / 1000);
          const level = status.code === grpc.status.NOT_FOUND || status.code === grpc.status.ALREADY_EXISTS ? 'debug' : 'warn';
          logger.log(level, 'rpc failed', { method: name, subject: describe(call.request), code: grpc.status[status.code], error: status.details });
          callback(status);
        },
      );
    };
  };
  type KeyReq = { key: string; parent?: string; labels?: Labels };
  const byKey = (r: { key: string }) => r.key;
  return {
    Prepare: unary('Prepare', async (r: KeyReq) => ({ mounts: toMounts(await snapshotter.prepare(r.key, r.parent || undefined, { labels: r.labels ?? {} })) }), byKey),
    View: unary('View', async (r: KeyReq) => ({ mounts: toMounts(await snapshotter.view(r.key, r.parent || undefined, { labels: r.labels ?? {} })) }), byKey),
    Mounts: unary('Mounts', async (r: { key: string }) => ({ mounts: toMounts(await snapshotter.mounts(r.key)) }), byKey),
    Commit: unary(
      'Commit',
      async (r: { name: string; key: string; labels?: Labels }) => {
        await snapshotter.commit(r.name, r.key, { labels: r.labels ?? {} });
        return {};
      },
      (r) => `${r.key} -> ${r.name}`,
    ),
    Remove: unary(
      'Remove',
      async (r: { key: string }) => {
        await snapshotter.remove(r.key);
        return {};
      },
      byKey,
    ),
    Stat: unary('Stat', async (r: { key: string }) => ({ info: toInfo(await snapshotter.stat(r.key)) }), byKey),
    Update: unary(
      'Update',
      async (r: { info?: InfoMessage; update_mask?: { paths?: string[] } }) => {
        const info = r.info ?? ({ name: '', labels: {} } as unknown as InfoMessage);
        return { info: toInfo(await snapshotter.update({ name: info.name, labels: info.labels ?? {} }, r.update_mask?.paths ?? [])) };
      },
      (r) => r.info?.name ?? '',
    ),
    Usage: unary('Usage', async (r: { key: string }) => snapshotter.usage(r.key), byKey),
    Cleanup: unary(
      'Cleanup',
      async () => {
        await snapshotter.cleanup();
        return {};
      },
      () => '',
    ),
    List: (call: grpc.ServerWritableStream<{ filters?: string[] }, { info: InfoMessage[] }>) => {
      listSnapshots(snapshotter, call).then(
        () => call.end(),
        (e: unknown) => {
          const status = toStatus(e);
          logger.warn('rpc failed', { method: 'List', code: grpc.status[status.code], error: status.details });
          call.emit('error', { ...status, metadata: new grpc.Metadata() }); // how grpc-js ends a server stream with a status
        },
      );
    },
  };
}

async function listSnapshots(snapshotter: Snapshotter, call: grpc.ServerWritableStream<{ filters?: string[] }, { info: InfoMessage[] }>): Promise<void> {
  const filter = snapshotFilter(call.request.filters ?? []);
  let batch: InfoMessage[] = [];
  await snapshotter.walk((info) => {
    batch.push(toInfo(info));
    if (batch.length >= LIST_BATCH) {
      call.write({ info: batch });
      batch = [];
    }
  }, filter);
  if (batch.length > 0) call.write({ info: batch });
}

const KIND: Record<SnapshotKind, string> = { view: 'VIEW', active: 'ACTIVE', committed: 'COMMITTED' };

function toInfo(info: SnapshotInfo): InfoMessage {
  return {
    name: info.name,
    parent: info.parent ?? '',
    kind: KIND[info.kind],
    created_at: toTimestamp(info.created),
    updated_at: toTimestamp(info.updated),
    labels: info.labels,
  };
}

function toTimestamp(iso: string): Timestamp {
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

function toMounts(mounts: MountSpec[]): { type: string; source: string; target: string; options: string[] }[] {
  return mounts.map((m) => ({ type: m.type, source: m.source, target: '', options: [...m.options] }));
}

const CODES: Partial<Record<ErrorCode, grpc.status>> = {
  NotFound: grpc.status.NOT_FOUND,
  Conflict: grpc.status.ALREADY_EXISTS,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  Unavailable: grpc.status.UNAVAILABLE,
  Unsupported: grpc.status.UNIMPLEMENTED,
  Aborted: grpc.status.ABORTED,
  LimitExceeded: grpc.status.RESOURCE_EXHAUSTED,
  Unauthorized: grpc.status.PERMISSION_DENIED,
};

/** A thrown error as a gRPC status (containerd's code for our CtrError codes; UNKNOWN otherwise). */
export function toStatus(e: unknown): { code: grpc.status; details: string } {
  const details = e instanceof Error ? e.message : String(e);
  return { code: (isCtrError(e) && CODES[e.code]) || grpc.status.UNKNOWN, details };
}

const elapsedMs = (since: bigint) => Number((process.hrtime.bigint() - since) / 1000n) / 1000;
