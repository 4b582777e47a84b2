// The service's Prometheus metrics (`metrics_address` in the config: GET /metrics), and a debug endpoint
// (GET /debug: the same numbers and the served layers as JSON). What the gRPC side counts itself: RPC
// latency by method and code, remote snapshots made, fallbacks by reason. What the fuse manager holds is
// asked of it at each scrape: per-layer bytes fetched, requests, cache hits, errors and digest mismatches,
// prefetch durations, the latency of on-demand fetches and of FUSE operations, the chunk cache, its
// resident memory. Plus this process's default metrics (memory, CPU, event loop).
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { invalidArgument, unavailable } from '../errors.js';
import { emptyHistogram, histogramLines, mergeHistograms } from '../stats/latency-histogram.js';
import type { ManagerStats } from './fuse-manager-protocol.js';

/** Where the per-layer numbers come from at scrape time (the fuse manager, or the in-process layer service). */
export type StatsSource = () => Promise<ManagerStats | undefined>;

/** The metrics of one service process. */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly rpcSeconds = new Histogram({
    name: 'ctr_remote_rpc_duration_seconds',
    help: 'Snapshots RPCs answered, by method and gRPC code',
    labelNames: ['method', 'code'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly remoteSnapshots = new Counter({ name: 'ctr_remote_remote_snapshots_total', help: 'Layers mounted lazily (remote snapshots made)', registers: [this.registry] });
  readonly fallbacks = new Counter({
    name: 'ctr_remote_fallbacks_total',
    help: 'Remote-snapshot Prepares that fell back to a normal (downloading) layer, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** RPCs answered since start (what the service's quiet trim watches). */
  rpcsAnswered = 0;
  private last: ManagerStats | undefined;

  constructor(private readonly source: StatsSource) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ctr_remote_service_' });
    const layerGauge = (name: string, help: string, pick: (l: ManagerStats['layers'][number]) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['digest'] as const,
        registers: [this.registry],
        collect: function (this: Gauge<'digest'>) {
          this.reset();
          for (const l of metrics.last?.layers ?? []) this.set({ digest: l.layerDigest }, pick(l));
        },
      });
    const metrics = this;
    layerGauge('ctr_remote_layer_fetched_bytes', 'Compressed bytes fetched from the registry for a served layer', (l) => l.bytesFetched);
    layerGauge('ctr_remote_layer_requests', 'Range requests sent for a served layer', (l) => l.requests);
    layerGauge('ctr_remote_layer_cache_hits', 'Chunk reads of a served layer answered from the chunk cache', (l) => l.cacheHits);
    layerGauge('ctr_remote_layer_errors', 'Failed fetches and rejected chunks of a served layer (each an EIO)', (l) => l.errors);
    layerGauge('ctr_remote_layer_digest_mismatches', 'Chunks of a served layer that failed verification', (l) => l.digestMismatches);
    layerGauge('ctr_remote_layer_blob_bytes', 'Compressed size of a served layer', (l) => l.blobSize);
    const simple = (name: string, help: string, pick: (s: ManagerStats) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect: function (this: Gauge) {
          const v = metrics.last ? pick(metrics.last) : undefined;
          if (v !== undefined) this.set(v);
        },
      });
    simple('ctr_remote_layers_served', 'Lazy layers served', (s) => s.layers.length);
    simple('ctr_remote_chunk_cache_bytes', 'Bytes of verified chunks on disk', (s) => s.cache?.diskBytes);
    simple('ctr_remote_chunk_cache_max_bytes', 'Bound of the chunk cache', (s) => s.cache?.maxBytes);
    simple('ctr_remote_fuse_manager_resident_bytes', 'Resident memory of the process serving the lazy layers', (s) => s.rss);
  }

  /** The exposition text (asks the stats source first). */
  async scrape(): Promise<string> {
    this.last = await this.source().catch(() => undefined);
    return `${await this.registry.metrics()}${this.histogramText()}`;
  }

  /** The histograms the fuse manager keeps as data (FUSE operations, on-demand fetches), in exposition format. */
  private histogramText(): string {
    const s = this.last;
    if (!s) return '';
    const out: string[] = [];
    const fuse = 'ctr_remote_fuse_operation_duration_seconds';
    out.push(`# HELP ${fuse} Time from a FUSE request reaching the serving process to its reply, by operation`, `# TYPE ${fuse} histogram`);
    for (const [op, h] of Object.entries(s.fuseLatency).sort()) out.push(...histogramLines(fuse, { operation: op }, h));
    const fetch = 'ctr_remote_on_demand_fetch_duration_seconds';
    out.push(`# HELP ${fetch} How long reads of lazy layers waited for chunks fetched from the registry`, `# TYPE ${fetch} histogram`);
    out.push(...histogramLines(fetch, {}, mergeHistograms(s.layers.map((l) => l.onDemandLatency ?? emptyHistogram()))));
    const prefetch = 'ctr_remote_layer_prefetch_duration_seconds';
    out.push(`# HELP ${prefetch} How long the prefetch of a served layer took (once done)`, `# TYPE ${prefetch} gauge`);
    for (const l of s.layers) if (l.prefetch.seconds !== undefined) out.push(`${prefetch}{digest="${l.layerDigest}"} ${l.prefetch.seconds}`);
    return `${out.join('\n')}\n`;
  }

  /** The numbers as JSON, for /debug. */
  async debug(): Promise<unknown> {
    this.last = await this.source().catch(() => undefined);
    return { manager: this.last ?? null, service: await this.registry.getMetricsAsJSON() };
  }
}

/** Serve /metrics and /debug on `address` (host:port; port 0 picks one); resolves to the server and its port. */
export async function serveMetrics(address: string, metrics: ServiceMetrics): Promise<{ server: Server; port: number }> {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) throw invalidArgument(`metrics_address ${JSON.stringify(address)} is not host:port`);
  const host = m[1]!.replace(/^\[(.*)\]$/, '$1');
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const send = (status: number, type: string, body: string) => res.writeHead(status, { 'content-type': type }).end(body);
    if (req.method !== 'GET') return send(405, 'text/plain', 'method not allowed\n');
    if (path === '/metrics') {
      metrics.scrape().then((text) => send(200, metrics.registry.contentType, text), (e: unknown) => send(500, 'text/plain', `${String(e)}\n`));
    } else if (path === '/debug') {
      metrics.debug().then((v) => send(200, 'application/json', `${JSON.stringify(v, null, 2)}\n`), (e: unknown) => send(500, 'text/plain', `${String(e)}\n`));
    } else send(404, 'text/plain', 'not found: /metrics or /debug\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(unavailable(`cannot serve metrics on ${address}: ${e.message}`)));
    server.listen(Number(m[2]), host, () => resolve());
  });
  const a = server.address();
  return { server, port: typeof a === 'object' && a ? a.port : 0 };
}
