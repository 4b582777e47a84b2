// Our snapshotter service (`ctr-remote snapshotter serve`) against the reference stargz snapshotter
// (containerd-stargz-grpc built from Debian's stargz-snapshotter 0.12 library by bench/reference-snapshotter/)
// under the same containerd (Debian's 1.6.20), side by side:
//   a. cold samples per image × snapshotter, interleaved: a fresh containerd root and snapshotter root, the page
//      cache dropped, the registry behind the shaping proxy; `ctr-remote i rpull --snapshotter stargz` (Debian's
//      reference CLI) and `ctr run --rm --snapshotter stargz REF ID CMD` timed separately, the bytes through the
//      proxy, the peak RSS of the snapshotter's processes (ours: `snapshotter serve` + its fuse manager; the
//      reference: its daemon) sampled every 50 ms;
//      and, as a third kind (`cli`), our CLI alone on the same images: `image rpull` + `run --rm` with a fresh
//      --root, no containerd and no service (the daemonless path);
//   b. steady RSS with 3 images pulled, run once each and their background fetch finished;
//   c. per-RPC latency: `ctr snapshots prepare/rm` through containerd, and Prepare/Mounts/Stat/Remove sent
//      straight to the snapshotter's socket.
// The images are the startup benchmark's (bench/lib/startup-images.ts, cached under --cache-dir), made eStargz
// and optimized for their workload by our `image optimize --oci` as bench/startup.ts does.
//
//   node --import tsx bench/service.ts [--samples 3] [--images python,payload] [--kinds ours,reference,cli] [--out docs/benchmarks]
//     [--rtt-ms 20] [--mbps 100] [--ref-bin /tmp/stargz-ref/containerd-stargz-grpc] [--no-build]
//     [--no-steady] [--no-rpc] [--rpc-iterations 50] [--no-background-fetch] [--in-process] [--cache-dir bench/.cache] [--keep-logs DIR]
//   node --import tsx bench/service.ts --report-only docs/benchmarks/service.json   # rewrite service.md from it
// Before/after: --cli-dist DIR runs our processes from another build's dist/ (e.g. one of an older commit).
// Diagnosis: --keep-logs DIR keeps each sample's service (and fuse manager) log; BENCH_NODE_ARGS (e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof") goes to our processes' node, BENCH_SERVE_ARGS (e.g. "--log-level debug") to `serve`.
// Needs root, containerd, runc, fuse3, Debian's stargz-snapshotter (ctr-remote) and golang (for the reference).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { chainIds } from '../src/oci/chain-id.js';
import { snapshotsServiceDefinition } from '../src/service/snapshots-grpc.js';
import { startContainerd, type ContainerdFixture } from '../test/fixtures/containerd.js';
import { startFaultProxy, type FaultProxy } from '../test/fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../test/fixtures/registry.js';
import { prepareImage, type BenchImage, type ImageName } from './lib/startup-images.js';
import { stackedBarSvg } from './lib/stacked-bar-svg.js';
import { summarize, type Summary } from './lib/summary-stats.js';
import { mustRun, timedProcess } from './lib/timed-process.js';
import { OUR_ENV } from './lib/node-env.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: a } = parseArgs({
  options: {
    images: { type: 'string', default: 'python,payload' },
    kinds: { type: 'string', default: 'ours,reference,cli' },
    samples: { type: 'string', default: '3' },
    'rtt-ms': { type: 'string', default: '20' },
    mbps: { type: 'string', default: '100' },
    out: { type: 'string', default: join(ROOT, 'docs', 'benchmarks') },
    period: { type: 'string', default: '10' },
    'payload-layers': { type: 'string', default: '4' },
    'payload-mib': { type: 'string', default: '100' },
    'cache-dir': { type: 'string', default: join(ROOT, 'bench', '.cache') },
    'ref-bin': { type: 'string', default: '/tmp/stargz-ref/containerd-stargz-grpc' },
    'no-build': { type: 'boolean', default: false },
    'no-steady': { type: 'boolean', default: false },
    'no-rpc': { type: 'boolean', default: false },
    'no-cached': { type: 'boolean', default: false },
    'no-background-fetch': { type: 'boolean', default: false },
    'in-process': { type: 'boolean', default: false },
    'rpc-iterations': { type: 'string', default: '50' },
    'report-only': { type: 'string' },
    'keep-logs': { type: 'string' },
    'cli-dist': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

/** ours = our service under containerd; reference = the reference daemon under containerd; cli = our CLI alone
 *  (`image rpull` + `run --rm`, no containerd, no service): the daemonless path issue 12 measures. */
type Kind = 'ours' | 'reference' | 'cli';
const ALL_KINDS: Kind[] = ['ours', 'reference', 'cli'];
const KINDS: Kind[] = a.kinds.split(',').map((k) => k.trim()).filter((k): k is Kind => (ALL_KINDS as string[]).includes(k));
/** The two kinds that run a snapshotter service (steady memory and RPC latency are theirs only). */
const SERVICE_KINDS = KINDS.filter((k) => k !== 'cli');
const SN = ['--snapshotter', 'stargz'];

// ---------------------------------------------------------------------------------------------------------
// Processes and their memory

interface ProcInfo { pid: number; ppid: number; cmdline: string }

/** Every process: pid, parent, command line (NULs as spaces). */
function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      out.push({ pid: Number(d), ppid, cmdline });
    } catch { /* gone */ }
  }
  return out;
}

/** `pid` and all its descendants. */
function withDescendants(pid: number, all: ProcInfo[]): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const p of all) if (p.ppid === out[i]) out.push(p.pid);
  return out;
}

/**
 * The memory fields of /proc/PID/status in bytes, read once: VmRSS, VmHWM, RssAnon + RssShmem (`own`) and
 * RssFile; undefined when the process is gone (a field a zombie no longer has reads as 0, VmHWM as undefined).
 */
function memoryStatus(pid: number): { rss: number; hwm: number | undefined; own: number; file: number } | undefined {
  let st: string;
  try {
    st = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const bytes = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(st);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  return { rss: bytes('VmRSS') ?? 0, hwm: bytes('VmHWM'), own: (bytes('RssAnon') ?? 0) + (bytes('RssShmem') ?? 0), file: bytes('RssFile') ?? 0 };
}

/**
 * Samples the summed VmRSS of a snapshotter's processes every 50 ms (finding new ones every 250 ms), and the
 * same with their code counted once ("RSS, code once"): the sum of each process's anonymous and shared-memory
 * pages plus the largest file-backed RSS among them. Our two processes are one node binary and one bundle,
 * whose ~43 MB of resident code pages a VmRSS sum counts twice although the kernel holds them once. (PSS
 * would also split them with any other node process on the machine, this harness included.)
 */
class RssSampler {
  peak = 0;
  /** Peak of the sum with code counted once. */
  peakOnce = 0;
  readonly seen = new Set<number>();
  readonly hwm = new Map<number, number>();
  private values: number[] = [];
  private onceValues: number[] = [];
  private timer?: NodeJS.Timeout;
  constructor(private readonly find: () => number[], private readonly findEvery = 5) {}
  start(): this {
    let tick = 0;
    this.timer = setInterval(() => {
      if (tick++ % this.findEvery === 0) for (const p of this.find()) this.seen.add(p);
      let sum = 0;
      let own = 0;
      let file = 0;
      for (const p of this.seen) {
        const m = memoryStatus(p);
        if (!m) continue;
        sum += m.rss;
        own += m.own;
        file = Math.max(file, m.file);
        if (m.hwm !== undefined) this.hwm.set(p, m.hwm);
      }
      this.values.push(sum);
      this.onceValues.push(own + file);
      if (sum > this.peak) this.peak = sum;
      if (own + file > this.peakOnce) this.peakOnce = own + file;
    }, 50);
    return this;
  }
  /** The summed VmRSS and code-once values since the last call. */
  take(): { rss: number[]; once: number[] } {
    const taken = { rss: this.values, once: this.onceValues };
    this.values = [];
    this.onceValues = [];
    return taken;
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The two snapshotters

interface RunningSnapshotter {
  kind: Kind;
  socket: string;
  root: string;
  /** Seconds from spawn to serving. */
  startSeconds: number;
  pids(): number[];
  /** Warning/error lines of its logs (ours: the service's stderr and the fuse manager's log). */
  problems(): string[];
  stop(): Promise<{ leftoverMounts: string[]; notes: string[] }>;
}

interface Env {
  cli: string[]; // argv prefix of our CLI (frozen copy)
  refBin: string;
  work: string;
  noBackgroundFetch: boolean;
  /** Ours serves its layers in the `serve` process (`[fuse_manager] enable = false`), not in a fuse manager. */
  inProcess: boolean;
}

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** umount -l every mount under `dir`, deepest first; returns what it found. */
function unmountAll(dir: string): string[] {
  const found = mountsUnder(dir);
  for (const m of [...found].reverse()) spawnSync('umount', ['-l', m]);
  return found;
}

async function waitExit(proc: ChildProcess, ms: number): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return true;
  return Promise.race([new Promise<boolean>((r) => proc.once('exit', () => r(true))), sleep(ms).then(() => false)]);
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(safeRead(`/proc/${pid}/status`))) return true;
    await sleep(50);
  }
  return false;
}

function safeRead(p: string): string {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
}

function isProblem(line: string): boolean {
  try {
    const l = JSON.parse(line) as { level?: string };
    return /^(warn|warning|error|fatal|panic)$/i.test(l.level ?? '');
  } catch {
    return line.trim() !== '' && !line.startsWith('{');
  }
}

/** Samples whose logs --keep-logs has written. */
let keptLogs = 0;

async function startSnapshotter(kind: Kind, env: Env, dir: string): Promise<RunningSnapshotter> {
  mkdirSync(dir, { recursive: true });
  const root = join(dir, 'root');
  const socket = join(dir, 'snapshotter.sock');
  const config = join(dir, 'config.toml');
  // no_background_fetch: default false, the reference's default; --in-process: ours without its fuse manager
  writeFileSync(config, `no_background_fetch = ${env.noBackgroundFetch}\n${kind === 'ours' && env.inProcess ? '[fuse_manager]\nenable = false\n' : ''}`);
  const t0 = Date.now();
  const [cmd, ...pre] = kind === 'ours' ? env.cli as [string, ...string[]] : [env.refBin];
  const argv = kind === 'ours'
    ? [...pre, 'snapshotter', 'serve', '--address', socket, '--root', root, '--config', config, ...(process.env.BENCH_SERVE_ARGS ?? '').split(' ').filter(Boolean)]
    : ['-address', socket, '-root', root, '-config', config];
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], ...(kind === 'ours' ? { env: OUR_ENV } : {}) });
  let log = '';
  proc.stderr!.on('data', (d) => (log += String(d)));
  const deadline = Date.now() + 30_000;
  while (!/"msg":"serving"/.test(log)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`${kind} snapshotter did not start: ${log.slice(-2000)}`);
    await sleep(20);
  }
  const startSeconds = (Date.now() - t0) / 1000;
  const managerLog = join(root, 'snapshotter', 'fuse-manager.log');
  const managers = (all: ProcInfo[]) => all.filter((p) => p.cmdline.includes('snapshotter fuse-manager') && p.cmdline.includes(`"root":"${root}"`)).map((p) => p.pid);
  const pids = () => {
    const all = processes();
    return kind === 'ours' ? [...withDescendants(proc.pid!, all), ...managers(all)] : withDescendants(proc.pid!, all);
  };
  return {
    kind, socket, root, startSeconds, pids,
    problems: () => [...log.split('\n').filter(isProblem).map((l) => `service: ${l}`), ...safeRead(managerLog).split('\n').filter(isProblem).map((l) => `fuse-manager: ${l}`)],
    stop: async () => {
      const notes: string[] = [];
      if (kind === 'ours') {
        const mgr = managers(processes());
        const [c, ...p] = env.cli as [string, ...string[]];
        const r = await timedProcess(c, [...p, 'snapshotter', 'stop', '--root', root, '--unmount']);
        if (r.exitCode !== 0) notes.push(`snapshotter stop --unmount exited ${r.exitCode}: ${r.stderr.trim()}`);
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
        if (!(await waitExit(proc, 20_000))) {
          notes.push('serve did not exit within 20 s of SIGINT; SIGKILL');
          proc.kill('SIGKILL');
          await waitExit(proc, 5_000);
        }
        for (const m of mgr) {
          if (!(await waitGone(m, 10_000))) {
            notes.push(`fuse manager ${m} still running 10 s after stop --unmount; SIGKILL`);
            try { process.kill(m, 'SIGKILL'); } catch { /* gone */ }
          }
        }
      } else {
        proc.kill('SIGINT');
        if (!(await waitExit(proc, 20_000))) {
          notes.push('reference daemon did not exit within 20 s of SIGINT; SIGKILL');
          proc.kill('SIGKILL');
          await waitExit(proc, 5_000);
        }
      }
      if (a['keep-logs']) {
        mkdirSync(a['keep-logs'], { recursive: true });
        const base = join(a['keep-logs'], `${kind}-${++keptLogs}`);
        writeFileSync(`${base}.log`, log);
        if (kind === 'ours') writeFileSync(`${base}.manager.log`, safeRead(managerLog));
      }
      const leftoverMounts = unmountAll(root);
      if (leftoverMounts.length > 0) notes.push(`${leftoverMounts.length} mount(s) left under the root after stop (umount -l): ${leftoverMounts.slice(0, 3).join(', ')}`);
      return { leftoverMounts, notes };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Images

interface PushedImage {
  image: BenchImage;
  /** Pulled through the proxy. */
  ref: string;
  layerDigests: string[];
  layerBytes: number;
  /** The chain ID of its top layer (containerd's key of its top committed snapshot). */
  chainId: string;
}

async function pushImage(env: Env, reg: RegistryFixture, proxy: FaultProxy, image: BenchImage, period: number, log: (l: string) => void): Promise<PushedImage> {
  const [cmd, ...pre] = env.cli as [string, ...string[]];
  const builder = join(env.work, 'builder');
  const ctr = (...args: string[]) => mustRun(cmd, [...pre, '--root', builder, ...args]);
  const repo = `bench/${image.name}`;
  await ctr('image', 'tag', `oci:${image.layout}:${image.tag}`, `${reg.host}/${repo}:org`);
  await ctr('image', 'push', '--plain-http', `${reg.host}/${repo}:org`);
  log(`${image.name}: image optimize --oci --period ${period} ...`);
  await ctr('image', 'optimize', '--oci', '--period', String(period), `${reg.host}/${repo}:org`, `${reg.host}/${repo}:esgz`);
  await ctr('image', 'push', '--plain-http', `${reg.host}/${repo}:esgz`);
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/esgz`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  if (!res.ok) throw new Error(`manifest of ${repo}:esgz: HTTP ${res.status}`);
  const m = (await res.json()) as { config: { digest: string }; layers: { digest: string; size: number; annotations?: Record<string, string> }[] };
  const config = (await (await fetch(`${reg.url}/v2/${repo}/blobs/${m.config.digest}`)).json()) as { rootfs: { diff_ids: string[] } };
  if (!m.layers.every((l) => l.annotations?.['containerd.io/snapshot/stargz/toc.digest'])) throw new Error(`${repo}:esgz: a layer has no toc.digest`);
  return { image, ref: `${proxy.host}/${repo}:esgz`, layerDigests: m.layers.map((l) => l.digest), layerBytes: m.layers.reduce((s, l) => s + l.size, 0), chainId: chainIds(config.rootfs.diff_ids).at(-1)! };
}

// ---------------------------------------------------------------------------------------------------------
// a. cold samples

interface Sample {
  image: string;
  kind: Kind;
  index: number;
  rpull: number;
  run: number;
  total: number;
  rpullBytes: number;
  runBytes: number;
  /** What went through the proxy in each phase (ms relative to the phase start). */
  rpullRequests: ProxiedRequest[];
  runRequests: ProxiedRequest[];
  peakRss: number;
  /** Peak RSS with code counted once (RssSampler; absent in runs before 2026-12-03 07:00). */
  peakOnce?: number;
  /** VmHWM per process at the end of the sample. */
  hwm: Record<string, number>;
  startSeconds: number;
  /** Layers containerd downloaded itself (fell back from lazy), from `ctr content ls`. */
  layersInContentStore: number;
  notes: string[];
  problems: string[];
}

interface ProxiedRequest {
  atMs: number;
  ms: number;
  bytes: number;
  /** blobs/<digest prefix> or manifests/<tag>, and the Range header when there was one. */
  what: string;
}

function proxied(proxy: FaultProxy, since: number): ProxiedRequest[] {
  return proxy.stats.requests.map((r) => ({
    atMs: r.startedAt - since,
    ms: r.durationMs ?? -1,
    bytes: r.bytes,
    what: `${r.method === 'GET' ? '' : `${r.method} `}${r.path.replace(/^.*\/(blobs|manifests)\/(sha256:)?/, '$1/').slice(0, 22)}${r.range ? ` ${r.range}` : ''}`,
  }));
}

function dropCaches(): void {
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

async function rpull(cd: ContainerdFixture, ref: string) {
  return timedProcess('ctr-remote', ['--address', cd.address, 'i', 'rpull', '--plain-http', ...SN, ref]);
}

async function ctrRun(cd: ContainerdFixture, p: PushedImage, id: string) {
  return timedProcess('ctr', ['--address', cd.address, 'run', '--rm', ...SN, p.ref, id, ...p.image.cmd]);
}

/** A snapshotter and a containerd using it, both fresh under `dir`. */
async function startPair(kind: Kind, env: Env, dir: string): Promise<{ sn: RunningSnapshotter; cd: ContainerdFixture; stop: () => Promise<{ notes: string[]; problems: string[] }> }> {
  rmSync(dir, { recursive: true, force: true });
  const sn = await startSnapshotter(kind, env, join(dir, 'sn'));
  let cd: ContainerdFixture;
  try {
    cd = await startContainerd(join(dir, 'containerd'), { snapshotters: { stargz: sn.socket } });
  } catch (e) {
    await sn.stop();
    throw e;
  }
  return {
    sn, cd,
    stop: async () => {
      await cd.stop();
      const r = await sn.stop();
      const left = unmountAll(dir); // containerd's own (should be none)
      if (left.length) r.notes.push(`${left.length} mount(s) left under the containerd dir: ${left.slice(0, 3).join(', ')}`);
      const problems = sn.problems(); // after stop: the teardown's lines too
      rmSync(dir, { recursive: true, force: true });
      return { notes: r.notes, problems };
    },
  };
}

/** Our CLI's processes working on `root` (rpull, run, and anything they start that names the root). */
function cliPids(env: Env, root: string): number[] {
  const all = processes();
  const script = env.cli.at(-1)!;
  const own = all.filter((p) => p.cmdline.includes(script) && p.cmdline.includes(root)).map((p) => p.pid);
  return own;
}

/** The daemonless path: `ctr-remote image rpull` then `ctr-remote run --rm`, a fresh --root, no containerd. */
async function coldSampleCli(env: Env, proxy: FaultProxy, p: PushedImage, index: number): Promise<Sample> {
  const dir = join(env.work, 'samples', `${p.image.name}-cli-${index}`);
  rmSync(dir, { recursive: true, force: true });
  const root = join(dir, 'root');
  mkdirSync(root, { recursive: true });
  const [cmd, ...pre] = env.cli as [string, ...string[]];
  const bg = env.noBackgroundFetch ? ['--no-background-fetch'] : [];
  const rss = new RssSampler(() => cliPids(env, root), 1).start();
  const notes: string[] = [];
  const problems: string[] = [];
  try {
    dropCaches();
    proxy.stats.reset();
    const pull = await timedProcess(cmd, [...pre, '--root', root, 'image', 'rpull', '--plain-http', p.ref], OUR_ENV);
    if (pull.exitCode !== 0) throw new Error(`cli/${p.image.name}: rpull exited ${pull.exitCode}: ${pull.stderr.trim().slice(-800)}`);
    const rpullBytes = proxy.stats.totalBytes;
    const rpullRequests = proxied(proxy, pull.startedAt);
    proxy.stats.reset();
    const run = await timedProcess(cmd, [...pre, '--root', root, 'run', '--rm', '--plain-http', ...bg, p.ref, `bench-${index}`, ...p.image.cmd], OUR_ENV);
    const runBytes = proxy.stats.totalBytes;
    const runRequests = proxied(proxy, run.startedAt);
    if (run.exitCode !== 0) throw new Error(`cli/${p.image.name}: run exited ${run.exitCode}: ${run.stderr.trim().slice(-800)}`);
    if (!p.image.expect.test(run.stdout)) throw new Error(`cli/${p.image.name}: the workload printed ${JSON.stringify(run.stdout.slice(0, 200))}`);
    await sleep(60);
    rss.stop();
    for (const l of [...pull.stderr.split('\n'), ...run.stderr.split('\n')]) if (/warn|error/i.test(l)) problems.push(`cli: ${l}`);
    const hwm = Object.fromEntries([...rss.hwm].map(([pid, b]) => [`${pid}`, b]));
    const s = (t: { startedAt: number; exitedAt: number }) => (t.exitedAt - t.startedAt) / 1000;
    return {
      image: p.image.name, kind: 'cli', index, rpull: s(pull), run: s(run), total: s(pull) + s(run), rpullBytes, runBytes, rpullRequests, runRequests,
      peakRss: rss.peak, peakOnce: rss.peakOnce, hwm, startSeconds: 0, layersInContentStore: 0, notes, problems,
    };
  } finally {
    rss.stop();
    // the keeper rpull left (src/image/lazy/layer-keeper.ts) ends with its mounts; a build without one has none to stop
    await timedProcess(cmd, [...pre, 'snapshotter', 'stop', '--root', root, '--unmount'], OUR_ENV).catch(() => undefined);
    const left = unmountAll(dir);
    if (left.length) notes.push(`${left.length} mount(s) left under the CLI root after run --rm: ${left.slice(0, 3).join(', ')}`);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function coldSample(kind: Kind, env: Env, proxy: FaultProxy, p: PushedImage, index: number): Promise<Sample> {
  if (kind === 'cli') return coldSampleCli(env, proxy, p, index);
  const dir = join(env.work, 'samples', `${p.image.name}-${kind}-${index}`);
  const pair = await startPair(kind, env, dir);
  const rss = new RssSampler(pair.sn.pids).start();
  const notes: string[] = [];
  const problems: string[] = [];
  try {
    dropCaches();
    proxy.stats.reset();
    const pull = await rpull(pair.cd, p.ref);
    if (pull.exitCode !== 0) throw new Error(`${kind}/${p.image.name}: rpull exited ${pull.exitCode}: ${pull.stderr.trim().slice(-800)}`);
    const rpullBytes = proxy.stats.totalBytes;
    const rpullRequests = proxied(proxy, pull.startedAt);
    proxy.stats.reset();
    const run = await ctrRun(pair.cd, p, `bench-${index}`);
    const runBytes = proxy.stats.totalBytes;
    const runRequests = proxied(proxy, run.startedAt);
    if (run.exitCode !== 0) throw new Error(`${kind}/${p.image.name}: ctr run exited ${run.exitCode}: ${run.stderr.trim().slice(-800)}`);
    if (!p.image.expect.test(run.stdout)) throw new Error(`${kind}/${p.image.name}: the workload printed ${JSON.stringify(run.stdout.slice(0, 200))}`);
    await sleep(60); // one more RSS tick
    rss.stop();
    const hwm = Object.fromEntries([...rss.hwm].map(([pid, b]) => [`${pid}`, b]));
    const content = (await pair.cd.ctr(['content', 'ls', '-q'])).stdout;
    const layersInContentStore = p.layerDigests.filter((d) => content.includes(d)).length;
    const s = (t: { startedAt: number; exitedAt: number }) => (t.exitedAt - t.startedAt) / 1000;
    return {
      image: p.image.name, kind, index, rpull: s(pull), run: s(run), total: s(pull) + s(run), rpullBytes, runBytes, rpullRequests, runRequests,
      peakRss: rss.peak, peakOnce: rss.peakOnce, hwm, startSeconds: pair.sn.startSeconds, layersInContentStore, notes, problems,
    };
  } finally {
    rss.stop();
    const r = await pair.stop();
    notes.push(...r.notes);
    problems.push(...r.problems);
  }
}

// ---------------------------------------------------------------------------------------------------------
// d. cached reads of a real root filesystem through each snapshotter's mount

interface CachedReads {
  image: string;
  entries: number;
  tarBytes: number;
  /** Seconds per pass, by side (ours, reference, local: a `cp -a` of our mount on the same disk). */
  read: Record<string, number[]>;
  stat: Record<string, number[]>;
  /**
   * The stat walk through a container's root filesystem: an active snapshot of the image (overlayfs with an
   * upper dir over the lazy layer, as `ctr run` mounts it), by side (ours, reference). Absent in older runs.
   */
  statRootfs?: Record<string, number[]>;
  notes: string[];
}

async function waitProxyIdle(proxy: FaultProxy, quietMs: number, maxMs: number): Promise<boolean> {
  const t0 = Date.now();
  let last = -1;
  let stableSince = Date.now();
  while (Date.now() - t0 < maxMs) {
    await sleep(500);
    const inFlight = proxy.stats.requests.some((r) => r.durationMs === undefined);
    if (proxy.stats.totalBytes !== last || inFlight) {
      last = proxy.stats.totalBytes;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= quietMs) return true;
  }
  return false;
}

function shTimed(script: string): { s: number; out: string } {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${script}: exit ${r.status}: ${r.stderr}`);
  return { s: (performance.now() - t0) / 1000, out: r.stdout };
}

/**
 * Make snapshot `bench-<view|active>` of `chainId` and mount it at `dir` as `ctr snapshots <cmd> --target`
 * prints: one command creates it and prints its mount (a view no lease holds is containerd's garbage: a
 * separate `mounts` once found it collected), then a gc.root label keeps it while it is read. Returns `dir`.
 */
async function mountSnapshot(cd: ContainerdFixture, kind: Kind, cmd: 'view' | 'prepare', dir: string, chainId: string): Promise<string> {
  const key = cmd === 'view' ? 'bench-view' : 'bench-active';
  mkdirSync(dir, { recursive: true });
  const m = await cd.ctr(['snapshots', ...SN, cmd, '--target', dir, key, chainId]);
  await cd.ctr(['snapshots', ...SN, 'label', key, `containerd.io/gc.root=${new Date().toISOString()}`]);
  if (!/^mount /.test(m.stdout.trim())) throw new Error(`cached ${kind}: snapshots ${cmd} --target printed ${JSON.stringify(m.stdout)}`);
  shTimed(m.stdout.trim());
  return dir;
}

/**
 * Both snapshotters (each under its own containerd) hold the rpulled image; a read-only view of its top
 * snapshot is mounted as `ctr snapshots view --target` prints; once the background fetch has made every chunk local,
 * `tar -cf - . | wc -c` and `find -exec stat` run on each mount and on a local copy, alternating, with the
 * page cache dropped before each pass.
 */
async function cachedReadsSample(env: Env, proxy: FaultProxy, p: PushedImage, chainId: string, runs: number): Promise<CachedReads> {
  const pairs = new Map<Kind, Awaited<ReturnType<typeof startPair>>>();
  const dirs = new Map<string, string>();
  const rootfs = new Map<string, string>();
  const notes: string[] = [];
  const local = join(env.work, 'cached', 'local');
  try {
    for (const kind of SERVICE_KINDS) {
      const pair = await startPair(kind, env, join(env.work, 'cached', kind));
      pairs.set(kind, pair);
      const pull = await rpull(pair.cd, p.ref);
      if (pull.exitCode !== 0) throw new Error(`cached ${kind}: rpull: ${pull.stderr.trim().slice(-500)}`);
      // a read-only view of the image's top snapshot (a bind mount of a one-layer image's layer), and a
      // container's view: an active snapshot, overlayfs with an upper dir over the lazy layer
      dirs.set(kind, await mountSnapshot(pair.cd, kind, 'view', join(env.work, 'cached', `mnt-${kind}`), chainId));
      rootfs.set(kind, await mountSnapshot(pair.cd, kind, 'prepare', join(env.work, 'cached', `rootfs-${kind}`), chainId));
    }
    if (!(await waitProxyIdle(proxy, 5_000, 300_000))) notes.push('the background fetch was still running after 300 s');
    const first = dirs.get('ours') ?? [...dirs.values()][0]!;
    mkdirSync(local, { recursive: true });
    shTimed(`cp -a ${first}/. ${local}/`);
    dirs.set('local', local);
    for (const dir of dirs.values()) shTimed(`tar -C ${dir} -cf - . | wc -c`); // every chunk read once
    const read: Record<string, number[]> = {};
    const stat: Record<string, number[]> = {};
    const statRootfs: Record<string, number[]> = {};
    let tarBytes = 0;
    const sides = [...dirs.keys()];
    for (let i = 0; i < runs; i++) {
      for (const side of i % 2 ? [...sides].reverse() : sides) {
        const dir = dirs.get(side)!;
        dropCaches();
        const r = shTimed(`tar -C ${dir} -cf - . | wc -c`);
        if (tarBytes && Number(r.out) !== tarBytes) notes.push(`tar of ${side} gave ${r.out.trim()} bytes, another side ${tarBytes}`);
        tarBytes = Number(r.out);
        (read[side] ??= []).push(r.s);
        dropCaches();
        (stat[side] ??= []).push(shTimed(`find ${dir} -exec stat -c '%s %Y' {} + | wc -l`).s);
        const rw = rootfs.get(side);
        if (rw) {
          dropCaches();
          (statRootfs[side] ??= []).push(shTimed(`find ${rw} -exec stat -c '%s %Y' {} + | wc -l`).s);
        }
      }
    }
    const entries = Number(shTimed(`find ${local} | wc -l`).out);
    return { image: p.image.name, entries, tarBytes, read, stat, statRootfs, notes };
  } finally {
    for (const [kind, dir] of [...dirs, ...rootfs]) if (kind !== 'local') spawnSync('umount', [dir]);
    for (const pair of pairs.values()) {
      await pair.cd.ctr(['snapshots', ...SN, 'rm', 'bench-active'], { reject: false }).catch(() => undefined);
      await pair.cd.ctr(['snapshots', ...SN, 'rm', 'bench-view'], { reject: false }).catch(() => undefined);
      const r = await pair.stop();
      notes.push(...r.notes, ...r.problems);
    }
    rmSync(join(env.work, 'cached'), { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// b. steady RSS with 3 images

interface Steady {
  kind: Kind;
  images: string[];
  /** Seconds waited for the background fetch to finish (proxy idle 5 s), and whether it did. */
  waitedSeconds: number;
  idle: boolean;
  fetchedBytes: number;
  rssMedian: number;
  rssMax: number;
  peakRss: number;
  /** RSS with code counted once: median over the 5 s window, and the peak (absent in older runs). */
  onceMedian?: number;
  peakOnce?: number;
  mounts: number;
  /** Each process at the end of the window: its command (shortened), VmRSS, RssAnon + RssShmem, RssFile (absent in older runs). */
  processes?: { what: string; rss: number; own: number; file: number }[];
  notes: string[];
  problems: string[];
}

/** What a process of a snapshotter is, for the report: its role, not its arguments. */
function roleOf(pid: number): string {
  const cmd = safeRead(`/proc/${pid}/cmdline`).split('\0').join(' ');
  if (cmd.includes('snapshotter fuse-manager')) return 'fuse manager';
  if (cmd.includes('snapshotter serve')) return 'snapshotter serve';
  return cmd.split(' ')[0]?.split('/').pop() ?? String(pid);
}

/** Wait after the proxy has gone idle before the steady window. */
const STEADY_SETTLE_MS = 10_000;

async function steadySample(kind: Kind, env: Env, proxy: FaultProxy, pushed: PushedImage[]): Promise<Steady> {
  const pair = await startPair(kind, env, join(env.work, 'steady', kind));
  const rss = new RssSampler(pair.sn.pids).start();
  const notes: string[] = [];
  const problems: string[] = [];
  try {
    proxy.stats.reset();
    for (const [i, p] of pushed.entries()) {
      const pull = await rpull(pair.cd, p.ref);
      if (pull.exitCode !== 0) throw new Error(`steady ${kind}: rpull ${p.ref}: ${pull.stderr.trim().slice(-500)}`);
      const run = await ctrRun(pair.cd, p, `steady-${i}`);
      if (run.exitCode !== 0 || !p.image.expect.test(run.stdout)) throw new Error(`steady ${kind}: run ${p.ref}: ${run.stderr.trim().slice(-500)}`);
    }
    const t0 = Date.now();
    const idle = await waitProxyIdle(proxy, 5_000, 300_000);
    const waitedSeconds = (Date.now() - t0) / 1000;
    // what a snapshotter does once quiet (ours trims after 5 s without activity; Go returns freed memory in
    // the background) happens before the window, not inside it
    await sleep(STEADY_SETTLE_MS);
    rss.take();
    await sleep(5_000);
    const window = rss.take();
    rss.stop();
    const processes = [...new Set(pair.sn.pids())].flatMap((pid) => {
      const m = memoryStatus(pid);
      return m ? [{ what: roleOf(pid), rss: m.rss, own: m.own, file: m.file }] : [];
    });
    const mounts = mountsUnder(pair.sn.root).length;
    return {
      kind, images: pushed.map((p) => p.image.name), waitedSeconds, idle, fetchedBytes: proxy.stats.totalBytes,
      rssMedian: summarize(window.rss).median, rssMax: Math.max(...window.rss), peakRss: rss.peak, onceMedian: summarize(window.once).median, peakOnce: rss.peakOnce, mounts, processes, notes, problems,
    };
  } finally {
    rss.stop();
    const r = await pair.stop();
    notes.push(...r.notes);
    problems.push(...r.problems);
  }
}

// ---------------------------------------------------------------------------------------------------------
// c. RPC latency

interface RpcLatency {
  kind: Kind;
  /** ms per `ctr snapshots prepare` / `rm` (containerd in between, ctr's own start included). */
  ctrPrepare: Summary;
  ctrRm: Summary;
  /** ms per RPC sent straight to the snapshotter's socket. */
  direct: Record<string, Summary>;
}

async function rpcSample(kind: Kind, env: Env, iterations: number): Promise<RpcLatency> {
  const pair = await startPair(kind, env, join(env.work, 'rpc', kind));
  try {
    const ms = (t: { startedAt: number; exitedAt: number }) => t.exitedAt - t.startedAt;
    const prep: number[] = [];
    const rm: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const p = await timedProcess('ctr', ['--address', pair.cd.address, 'snapshots', ...SN, 'prepare', `rpc-${i}`]);
      if (p.exitCode !== 0) throw new Error(`${kind}: ctr snapshots prepare: ${p.stderr}`);
      const r = await timedProcess('ctr', ['--address', pair.cd.address, 'snapshots', ...SN, 'rm', `rpc-${i}`]);
      if (r.exitCode !== 0) throw new Error(`${kind}: ctr snapshots rm: ${r.stderr}`);
      prep.push(ms(p));
      rm.push(ms(r));
    }
    // containerd's GC removes backend snapshots it does not know (a race with the loop below): stop it first
    await pair.cd.stop();
    const Client = grpc.makeGenericClientConstructor(snapshotsServiceDefinition(), 'Snapshots');
    const client = new Client(`unix://${pair.sn.socket}`, grpc.credentials.createInsecure()) as unknown as Record<string, Function> & grpc.Client;
    const call = (method: string, req: Record<string, unknown>) =>
      new Promise<unknown>((res, rej) => client[method]!.call(client, req, (e: Error | null, r: unknown) => (e ? rej(e) : res(r))));
    const times: Record<string, number[]> = { Prepare: [], Mounts: [], Stat: [], Remove: [] };
    try {
      await call('Stat', { key: 'warm-up' }).catch(() => undefined);
      for (let i = 0; i < iterations * 4; i++) {
        const key = `direct/${i}`;
        for (const [m, req] of [['Prepare', { key }], ['Mounts', { key }], ['Stat', { key }], ['Remove', { key }]] as const) {
          const t = performance.now();
          await call(m, req);
          times[m]!.push(performance.now() - t);
        }
      }
      await call('Cleanup', {}).catch(() => undefined);
    } finally {
      client.close();
    }
    return { kind, ctrPrepare: summarize(prep), ctrRm: summarize(rm), direct: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)])) };
  } finally {
    await pair.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report

interface Results {
  date: string;
  command: string;
  commit: string;
  /** mtime of the dist/ctr-remote.mjs that was run. */
  distBuilt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string; node: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  link: { rttMs: number; mbps: number };
  noBackgroundFetch: boolean;
  /** Ours ran without its fuse manager (absent in older runs: with it). */
  inProcess?: boolean;
  images: { name: string; description: string; cmd: string[]; layers: number; layerBytes: number }[];
  samples: Sample[];
  steady: Steady[];
  rpc: RpcLatency[];
  rpcIterations: number;
  cached?: CachedReads;
  errors: string[];
}

const MB = (b: number) => b / 1e6;
const MiB = (b: number) => b / 2 ** 20;
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
const ratio = (x: number, y: number) => (Number.isFinite(x / y) ? `${(x / y).toFixed(2)}×` : 'n/a');

/**
 * The cold starts as a chart: per image, each kind's median total split into rpull and run, in units of the
 * reference's median total (1 = as fast as the reference), so that images of 0.5 s and of 4 s read alike.
 * Undefined without reference samples.
 */
function chartOf(r: Results): string | undefined {
  const names = [...new Set(r.samples.map((s) => s.image))];
  const med = (g: Sample[], pick: (s: Sample) => number) => summarize(g.map(pick)).median;
  const label: Record<Kind, string> = { reference: 'reference', ours: 'service', cli: 'cli' };
  const bars: { group: string; label: string; values: number[] }[] = [];
  for (const name of names) {
    const of = (k: Kind) => r.samples.filter((s) => s.image === name && s.kind === k);
    const ref = of('reference');
    if (ref.length === 0) continue;
    const unit = med(ref, (s) => s.total);
    for (const k of (['reference', 'ours', 'cli'] as const).filter((k) => of(k).length > 0)) {
      // the bar is the median total; rpull and run split it in proportion to their own medians
      const [rpull, run, total] = [med(of(k), (s) => s.rpull), med(of(k), (s) => s.run), med(of(k), (s) => s.total)];
      const scale = total / (rpull + run) / unit;
      bars.push({ group: `${name} (reference ${unit.toFixed(2)} s)`, label: label[k], values: [rpull * scale, run * scale] });
    }
  }
  if (bars.length === 0) return undefined;
  const n = Math.max(...names.map((name) => r.samples.filter((s) => s.image === name && s.kind === 'reference').length));
  return stackedBarSvg({
    title: 'Cold lazy start relative to the reference (1 = its median time)',
    subtitle: `median total of ${n} samples per kind, split by the rpull and run medians; ${r.link.rttMs} ms RTT, ${r.link.mbps} Mbit/s; commit ${r.commit}, ${r.machine.cpus} cores, ${r.date.slice(0, 10)}`,
    unit: '× the reference\'s time',
    phases: [
      { name: 'rpull', color: '#4e79a7' },
      { name: 'run', color: '#59a14f' },
    ],
    bars,
    marks: [{ value: 0.8, label: '0.8× (python, payload target)' }],
  });
}

function writeReport(r: Results, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, 'service.json');
  writeFileSync(jsonPath, `${JSON.stringify(r, null, 2)}\n`);
  const L: string[] = [];
  L.push('# Snapshotter service: ours vs the reference stargz snapshotter, under the same containerd', '');
  L.push(`Measured ${r.date.replace('T', ' ').slice(0, 16)} UTC by \`${r.command}\` (commit ${r.commit}) on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, Linux ${r.machine.kernel}, Node ${r.machine.node}; load average at the start ${r.machine.loadAvgStart.join(' ')}, at the end ${r.machine.loadAvgEnd.join(' ')} (other jobs shared the machine: read the ratios, not absolute times). Raw samples: [service.json](service.json).`, '');
  L.push('## Method', '');
  L.push(`- **ours**: \`node dist/ctr-remote.mjs snapshotter serve --address S --root R --config C\` (a frozen copy of the \`dist/\` that \`npm run build\` wrote at ${r.distBuilt.replace('T', ' ').slice(0, 19)} UTC), ${r.inProcess ? 'serving its lazy layers in that one process (`[fuse_manager] enable = false` in its config: the reference\'s default; no fuse manager, so its mounts end with it)' : 'with its fuse manager (a detached `snapshotter fuse-manager` process holding the FUSE sessions, so that the mounts outlive a restart of the service: our default)'}.`);
  L.push(`- **reference**: \`containerd-stargz-grpc\` built from Debian's stargz-snapshotter 0.12.0 library by [bench/reference-snapshotter/](${relative(outDir, join(ROOT, 'bench', 'reference-snapshotter', 'main.go'))}) (\`fs.NewFilesystem\` + \`snapshot.NewSnapshotter\` behind containerd's \`contrib/snapshotservice\`, registry hosts as the reference's resolver makes them: go-retryablehttp, 30 s timeout, plain HTTP on 127.0.0.1). FUSE is served inside the daemon.`);
  L.push('- **cli**: our CLI alone, the daemonless path (no containerd, no service): `node dist/ctr-remote.mjs --root R image rpull --plain-http REF`, then `... run --rm --plain-http REF ID CMD`, with a fresh empty root per sample. rpull leaves the root\'s keeper serving the lazy layers (their prefetch started), and run uses its mounts; the keeper is stopped after the sample. Its peak RSS is the sum over every process of ours that names the root (rpull, the keeper, run), sampled every 50 ms; runc and the workload are not counted, as containerd\'s shim and runc are not for the other two.');
  L.push(r.noBackgroundFetch ? '- Both get the same config file: `no_background_fetch = true` (background fetch off: only what is read or prefetched is fetched).' : '- Both get the same config file: `no_background_fetch = false` (the default: background fetch on).');
  L.push(`- containerd 1.6.20 (Debian), a new one per sample with its own empty root, the snapshotter registered as \`[proxy_plugins.stargz]\`; a fresh snapshotter root per sample; \`sync; echo 3 > /proc/sys/vm/drop_caches\` before the timed part.`);
  L.push(`- Registry: Debian's docker-registry 2.8 behind the shaping proxy (test/fixtures/fault-proxy.ts): ${r.link.rttMs} ms added before each request, one shared ${r.link.mbps} Mbit/s link for all response bodies.`);
  L.push('- **rpull** = `ctr-remote --address A i rpull --plain-http --snapshotter stargz REF` (Debian\'s reference CLI 0.12: passes the layer labels, so the layers are mounted lazily) until exit; **run** = `ctr --address A run --rm --snapshotter stargz REF ID CMD` with the image\'s own command, until exit (container create, overlay over the lazy layers, the workload, teardown); **total** = rpull + run.');
  L.push('- **MB fetched**: response bytes through the proxy during rpull + run (10^6 B). The bytes of a response still in flight when rpull ends (e.g. the prefetch) count in run. Background fetch keeps going after run; the snapshotter is stopped right after.');
  L.push('- **peak RSS**: the largest sum of VmRSS of the snapshotter\'s processes, sampled every 50 ms from its start to the end of run (ours: `snapshotter serve` and the fuse manager; reference: its daemon). MiB. **peak RSS, code once**: the same sum with the pages of code counted once: each process\'s anonymous and shared-memory pages (RssAnon + RssShmem) plus the largest file-backed RSS among them. Our two processes run one node binary and one bundle, whose ~43 MB of resident code a VmRSS sum counts twice although the kernel holds it once; for a single process (the reference, the CLI) both figures are its RSS.');
  L.push(`- Samples of ours and the reference alternate (the first of each pair alternates too). Images: the startup benchmark's (bench/lib/startup-images.ts), made eStargz and optimized for their command by our \`image optimize --oci --period 10\`, the same blobs for both snapshotters:`, '');
  for (const i of r.images) L.push(`  - **${i.name}**: ${i.description}; \`${i.cmd.map((x) => (/^[\w/.=-]+$/.test(x) ? x : `'${x}'`)).join(' ')}\`; ${i.layers} layer(s), ${f1(MB(i.layerBytes))} MB of eStargz layers`);
  L.push('');
  L.push('## Cold start (median, p95 in parentheses)', '');
  L.push('| image | snapshotter | samples | rpull s | run s | **total s** | MB fetched (rpull + run) | requests (rpull + run) | peak RSS MiB | peak RSS, code once, MiB | service start s | layers containerd fetched |');
  L.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const names = [...new Set(r.samples.map((s) => s.image))];
  const KINDS = ALL_KINDS; // a report rewritten from JSON shows every kind it holds
  const stat = (g: Sample[], pick: (s: Sample) => number) => summarize(g.map(pick));
  const cell = (x: Summary, fmt = f2) => `${fmt(x.median)} (${fmt(x.p95)})`;
  for (const name of names) {
    const by: Partial<Record<Kind, Sample[]>> = {};
    for (const k of KINDS) by[k] = r.samples.filter((s) => s.image === name && s.kind === k);
    for (const k of KINDS) {
      const g = by[k]!;
      if (!g.length) continue;
      const fetched = stat(g, (s) => MB(s.rpullBytes + s.runBytes));
      L.push(`| ${name} | ${k} | ${g.length} | ${cell(stat(g, (s) => s.rpull))} | ${cell(stat(g, (s) => s.run))} | **${cell(stat(g, (s) => s.total))}** | ${cell(fetched)} (${f2(stat(g, (s) => MB(s.rpullBytes)).median)} + ${f2(stat(g, (s) => MB(s.runBytes)).median)}) | ${stat(g, (s) => (s.rpullRequests?.length ?? NaN)).median} + ${stat(g, (s) => (s.runRequests?.length ?? NaN)).median} | ${cell(stat(g, (s) => MiB(s.peakRss)), f1)} | ${cell(stat(g, (s) => MiB(s.peakOnce ?? NaN)), f1)} | ${f2(stat(g, (s) => s.startSeconds).median)} | ${g.map((s) => s.layersInContentStore).join(', ')} |`);
    }
    const f = by.reference ?? [];
    for (const k of ['ours', 'cli'] as const) {
      const o = by[k] ?? [];
      if (!o.length || !f.length) continue;
      const rm = (pick: (s: Sample) => number) => ratio(stat(o, pick).median, stat(f, pick).median);
      L.push(`| ${name} | **${k} / reference** | | ${rm((s) => s.rpull)} | ${rm((s) => s.run)} | **${rm((s) => s.total)}** | ${rm((s) => s.rpullBytes + s.runBytes)} | | ${rm((s) => s.peakRss)} | ${rm((s) => s.peakOnce ?? NaN)} | ${k === 'cli' ? '' : rm((s) => s.startSeconds)} | |`);
    }
  }
  L.push('', 'Ratios are of medians (< 1: ours is faster / fetches less / uses less memory). "layers containerd fetched" counts, per sample, the image\'s layer blobs found in containerd\'s content store after run (0 = every layer was mounted lazily).', '');
  const chart = chartOf(r);
  if (chart) {
    writeFileSync(join(outDir, 'service.svg'), chart);
    L.push('![cold start of each kind relative to the reference: rpull and run, medians](service.svg)', '');
  }
  if (r.steady.length) {
    L.push('## Steady memory with 3 images', '');
    L.push(`Each snapshotter, fresh: rpull + run of ${r.steady[0]!.images.join(', ')} in turn through the same proxy, then wait until the proxy has been idle for 5 s (background fetch done; at most 300 s) and ${STEADY_SETTLE_MS / 1000} s more, then 5 s of samples.`, '');
    L.push('| snapshotter | waited s (idle?) | MB fetched in all | lazy mounts | steady RSS MiB (median / max over 5 s) | peak RSS MiB over the whole run | steady RSS, code once, MiB (median) | peak RSS, code once, MiB |');
    L.push('|---|---|---|---|---|---|---|---|');
    for (const s of r.steady) L.push(`| ${s.kind} | ${f1(s.waitedSeconds)} (${s.idle ? 'yes' : 'no'}) | ${f1(MB(s.fetchedBytes))} | ${s.mounts} | ${f1(MiB(s.rssMedian))} / ${f1(MiB(s.rssMax))} | ${f1(MiB(s.peakRss))} | ${f1(MiB(s.onceMedian ?? NaN))} | ${f1(MiB(s.peakOnce ?? NaN))} |`);
    const o = r.steady.find((s) => s.kind === 'ours');
    const f = r.steady.find((s) => s.kind === 'reference');
    if (o && f) L.push(`| **ours / reference** | | ${ratio(o.fetchedBytes, f.fetchedBytes)} | | ${ratio(o.rssMedian, f.rssMedian)} | ${ratio(o.peakRss, f.peakRss)} | ${ratio(o.onceMedian ?? NaN, f.onceMedian ?? NaN)} | ${ratio(o.peakOnce ?? NaN, f.peakOnce ?? NaN)} |`);
    L.push('');
    const by = r.steady.filter((s) => s.processes?.length);
    if (by.length) {
      L.push('Each process at the end of that window (MiB): RSS = anonymous (+ shared memory) + file-backed (code).', '');
      for (const s of by) L.push(`- ${s.kind}: ${s.processes!.map((p) => `${p.what} ${f1(MiB(p.rss))} = ${f1(MiB(p.own))} + ${f1(MiB(p.file))}`).join('; ')}`);
      L.push('');
    }
  }
  if (r.cached) {
    const c = r.cached;
    const med = (xs: number[] | undefined) => (xs ? summarize(xs).median : NaN);
    L.push(`## Cached reads of a real root filesystem (${c.image}: ${c.entries} entries, ${f1(MB(c.tarBytes))} MB as tar)`, '');
    L.push(`Each snapshotter under its own containerd holds the rpulled image; a read-only view of its top snapshot (\`ctr snapshots view --target\`, labelled as a GC root) is mounted as that command prints; once the proxy has been idle for 5 s (every chunk local), \`tar -cf - . | wc -c\` and \`find -exec stat -c '%s %Y' {} +\` run on each mount and on a \`cp -a\` of ours on the same disk, alternating, the page cache dropped before each pass (${c.read['local']?.length ?? 0} passes each; medians).${c.statRootfs ? ' The last row walks an active snapshot of the image instead (`ctr snapshots prepare --target`: overlayfs with an upper dir over the lazy layer, the root filesystem a container gets; containerd mounts a read-only view of one layer as a bind mount, without overlayfs); its local column is the plain walk of the local copy.' : ''}`, '');
    L.push('| | ours | reference | local disk | ours / reference | ours / local | reference / local |', '|---|---|---|---|---|---|---|');
    for (const [what, t] of [['full read (`tar`)', c.read], ['stat walk (`find -exec stat`)', c.stat]] as const) {
      const [o, f, l] = [med(t['ours']), med(t['reference']), med(t['local'])];
      L.push(`| ${what} | ${f2(o)} s | ${f2(f)} s | ${f2(l)} s | **${ratio(o, f)}** | ${ratio(o, l)} | ${ratio(f, l)} |`);
    }
    if (c.statRootfs && Object.keys(c.statRootfs).length) {
      const [o, f, l] = [med(c.statRootfs['ours']), med(c.statRootfs['reference']), med(c.stat['local'])];
      L.push(`| stat walk through a container's rootfs (active snapshot: overlayfs, upper dir) | ${f2(o)} s | ${f2(f)} s | ${f2(l)} s | **${ratio(o, f)}** | ${ratio(o, l)} | ${ratio(f, l)} |`);
    }
    if (c.notes.length) L.push('', ...c.notes.map((n) => `- ${n}`));
    L.push('');
  }
  if (r.rpc.length) {
    L.push('## Per-RPC latency (ms, median / p95)', '');
    const n = r.rpc[0]!;
    L.push(`\`ctr snapshots --snapshotter stargz prepare K\` then \`rm K\` (each a whole \`ctr\` process through containerd; containerd's own work and ctr's start-up are in both columns alike), and Prepare, Mounts, Stat, Remove sent straight to the snapshotter's socket by a grpc-js client (containerd stopped first: its GC removes snapshots it does not know) (${r.rpcIterations} of the ctr pair, ${r.rpcIterations * 4} of each direct RPC).`, '');
    const cols = ['ctr prepare', 'ctr rm', ...Object.keys(n.direct).map((k) => `${k} (direct)`)];
    L.push(`| snapshotter | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`);
    const row = (x: RpcLatency) => [x.ctrPrepare, x.ctrRm, ...Object.values(x.direct)];
    for (const x of r.rpc) L.push(`| ${x.kind} | ${row(x).map((s) => `${f2(s.median)} / ${f2(s.p95)}`).join(' | ')} |`);
    const o = r.rpc.find((x) => x.kind === 'ours');
    const f = r.rpc.find((x) => x.kind === 'reference');
    if (o && f) L.push(`| **ours / reference** | ${row(o).map((s, i) => ratio(s.median, row(f)[i]!.median)).join(' | ')} |`);
    L.push('');
  }
  const firsts = names.flatMap((name) => ALL_KINDS.map((k) => r.samples.find((s) => s.image === name && s.kind === k && s.rpullRequests)).filter((s): s is Sample => s !== undefined));
  if (firsts.length) {
    L.push('## Registry requests of one sample', '');
    L.push('What went through the proxy during rpull and run of the first sample of each image × snapshotter (ms from the start of the phase, response duration, body bytes; -1 = still in flight when the phase ended; blob digests shortened):', '');
    for (const s of firsts) {
      L.push(`<details><summary>${s.image} / ${s.kind}: rpull ${f2(s.rpull)} s, ${s.rpullRequests.length} requests; run ${f2(s.run)} s, ${s.runRequests.length} requests</summary>`, '', '| phase | at ms | ms | bytes | request |', '|---|---|---|---|---|');
      for (const [phase, list] of [['rpull', s.rpullRequests], ['run', s.runRequests]] as const) for (const q of list) L.push(`| ${phase} | ${q.atMs} | ${q.ms} | ${q.bytes} | ${q.what} |`);
      L.push('', '</details>', '');
    }
  }
  const problems = [...r.samples.flatMap((s) => [...s.notes, ...s.problems].map((p) => `${s.image} ${s.kind} #${s.index + 1}: ${p}`)), ...r.steady.flatMap((s) => [...s.notes, ...s.problems].map((p) => `steady ${s.kind}: ${p}`)), ...r.errors];
  L.push('## Warnings and errors seen', '');
  if (!problems.length) L.push('None: no warning or error line in either snapshotter\'s logs, no mount left after stop, no failed command.');
  else {
    L.push('Warning/error log lines of the snapshotters (ours: the service\'s stderr and `<root>/snapshotter/fuse-manager.log`; the reference: its stderr), mounts left after stop, failed samples:', '', '```');
    for (const p of problems.slice(0, 60)) L.push(p.length > 600 ? `${p.slice(0, 600)}…` : p);
    if (problems.length > 60) L.push(`… ${problems.length - 60} more in service.json`);
    L.push('```');
  }
  L.push('', `How to run: \`bench/reference-snapshotter/build.sh\` (once; Go from apt, offline), \`npm run build\`, then as root \`node --import tsx bench/service.ts [--samples 3] [--images python,payload] [--out DIR]\`. The images are cached under bench/.cache (the first run builds them: debootstrap, about 2 minutes).`, '');
  const mdPath = join(outDir, 'service.md');
  writeFileSync(mdPath, `${L.join('\n')}\n`);
  return chart ? [mdPath, jsonPath, join(outDir, 'service.svg')] : [mdPath, jsonPath];
}


// ---------------------------------------------------------------------------------------------------------

/** A copy of dist/ (and proto/) run from outside the tree, so a rebuild by someone else mid-run changes nothing. */
function freezeCli(work: string): string[] {
  const dir = join(work, 'ctr-remote');
  mkdirSync(dir, { recursive: true });
  cpSync(a['cli-dist'] ? resolve(a['cli-dist']) : join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'proto'), join(dir, 'proto'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return [process.execPath, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), join(dir, 'dist', 'ctr-remote.mjs')];
}

async function main(): Promise<void> {
  if (a.help) return void console.log('usage: node --import tsx bench/service.ts [--samples 3] [--images python,payload] [--out docs/benchmarks] [--rtt-ms 20] [--mbps 100]\n  [--ref-bin /tmp/stargz-ref/containerd-stargz-grpc] [--no-build] [--no-steady] [--no-rpc] [--rpc-iterations 50] [--no-background-fetch] [--cache-dir bench/.cache]\n  | --report-only docs/benchmarks/service.json   (rewrite service.md from its JSON)');
  if (a['report-only']) {
    const files = writeReport(JSON.parse(readFileSync(a['report-only'], 'utf8')) as Results, resolve(a['report-only'], '..'));
    return void console.log(`wrote ${files.join(', ')}`);
  }
  if (process.getuid?.() !== 0) throw new Error('needs root: containerd, FUSE, overlayfs, runc, drop_caches');
  const log = (l: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${l}`);
  const images = a.images.split(',').map((s) => s.trim()).filter(Boolean) as ImageName[];
  const samples = Math.max(1, Number(a.samples));
  const rttMs = Number(a['rtt-ms']);
  const mbps = Number(a.mbps);
  const loadAvgStart = loadavg().map((x) => Math.round(x * 100) / 100);
  if (!a['no-build']) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const refBin = resolve(a['ref-bin']);
  if (!existsSync(refBin)) execFileSync(join(ROOT, 'bench', 'reference-snapshotter', 'build.sh'), [refBin], { stdio: 'inherit' });
  const work = mkdtempSync(join(tmpdir(), 'ctr-bench-service-'));
  const env: Env = { cli: freezeCli(work), refBin, work, noBackgroundFetch: a['no-background-fetch'], inProcess: a['in-process'] };
  const reg = await startRegistry();
  const proxy = await startFaultProxy(reg.url, { link: { rttMs, ...(mbps > 0 ? { bytesPerSec: (mbps * 1e6) / 8 } : {}) } });
  const errors: string[] = [];
  const results: Results = {
    date: new Date().toISOString(),
    command: `node --import tsx bench/service.ts ${process.argv.slice(2).join(' ')}`.trim(),
    commit: spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() + (spawnSync('git', ['-C', ROOT, 'status', '--porcelain', 'src'], { encoding: 'utf8' }).stdout.trim() ? ' + uncommitted changes under src/' : ''),
    distBuilt: statSync(join(a['cli-dist'] ? resolve(a['cli-dist']) : join(ROOT, 'dist'), 'ctr-remote.mjs')).mtime.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: release(), node: process.version, loadAvgStart, loadAvgEnd: [] },
    link: { rttMs, mbps },
    noBackgroundFetch: a['no-background-fetch'],
    inProcess: a['in-process'],
    images: [], samples: [], steady: [], rpc: [], rpcIterations: Number(a['rpc-iterations']), errors,
  };
  const opts = { cacheDir: resolve(a['cache-dir']), payloadLayers: Number(a['payload-layers']), payloadMiB: Number(a['payload-mib']), log };
  try {
    const pushed: PushedImage[] = [];
    for (const name of images) {
      const p = await pushImage(env, reg, proxy, await prepareImage(name, opts), Number(a.period), log);
      pushed.push(p);
      results.images.push({ name, description: p.image.description, cmd: p.image.cmd, layers: p.layerDigests.length, layerBytes: p.layerBytes });
    }
    for (let i = 0; i < samples; i++) {
      for (const p of pushed) {
        for (const kind of i % 2 === 0 ? KINDS : [...KINDS].reverse()) {
          try {
            const s = await coldSample(kind, env, proxy, p, i);
            results.samples.push(s);
            log(`${p.image.name} ${kind} #${i + 1}: rpull ${f2(s.rpull)} s (${f2(MB(s.rpullBytes))} MB), run ${f2(s.run)} s (${f2(MB(s.runBytes))} MB), total ${f2(s.total)} s, peak RSS ${f1(MiB(s.peakRss))} MiB (code once ${f1(MiB(s.peakOnce ?? NaN))}), start ${f2(s.startSeconds)} s, layers in content store ${s.layersInContentStore}${s.notes.length + s.problems.length ? `, ${s.notes.length + s.problems.length} warning(s)` : ''}`);
          } catch (e) {
            const msg = `${p.image.name} ${kind} #${i + 1}: FAILED: ${e instanceof Error ? e.message : String(e)}`;
            errors.push(msg);
            log(msg);
          }
        }
      }
    }
    const python = pushed.find((p) => p.image.name === 'python');
    if (!a['no-cached'] && python && SERVICE_KINDS.length === 2) {
      try {
        results.cached = await cachedReadsSample(env, proxy, python, python.chainId, samples);
        const c = results.cached;
        log(`cached reads: ${Object.keys(c.read).map((k) => `${k} read ${f2(summarize(c.read[k]!).median)} s, stat ${f2(summarize(c.stat[k]!).median)} s`).join('; ')}`);
      } catch (e) {
        errors.push(`cached reads: FAILED: ${e instanceof Error ? e.message : String(e)}`);
        log(errors.at(-1)!);
      }
    }
    if (!a['no-steady']) {
      const three = [...pushed];
      if (three.length < 3 && !images.includes('busybox')) three.unshift(await pushImage(env, reg, proxy, await prepareImage('busybox', opts), Number(a.period), log));
      for (const kind of SERVICE_KINDS) {
        try {
          const s = await steadySample(kind, env, proxy, three);
          results.steady.push(s);
          log(`steady ${kind}: waited ${f1(s.waitedSeconds)} s (idle ${s.idle}), fetched ${f1(MB(s.fetchedBytes))} MB, ${s.mounts} mounts, RSS ${f1(MiB(s.rssMedian))} MiB (max ${f1(MiB(s.rssMax))}), peak ${f1(MiB(s.peakRss))} MiB; code once ${f1(MiB(s.onceMedian ?? NaN))}, peak ${f1(MiB(s.peakOnce ?? NaN))} MiB`);
        } catch (e) {
          errors.push(`steady ${kind}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
          log(errors.at(-1)!);
        }
      }
    }
    if (!a['no-rpc']) {
      for (const kind of SERVICE_KINDS) {
        try {
          const x = await rpcSample(kind, env, Number(a['rpc-iterations']));
          results.rpc.push(x);
          log(`rpc ${kind}: ctr prepare ${f2(x.ctrPrepare.median)} ms, ctr rm ${f2(x.ctrRm.median)} ms, direct ${Object.entries(x.direct).map(([k, v]) => `${k} ${f2(v.median)}`).join(', ')} ms`);
        } catch (e) {
          errors.push(`rpc ${kind}: FAILED: ${e instanceof Error ? e.message : String(e)}`);
          log(errors.at(-1)!);
        }
      }
    }
  } finally {
    await proxy.stop();
    await reg.stop();
    const left = unmountAll(work);
    if (left.length) errors.push(`${left.length} mount(s) left under the work dir at the end`);
    rmSync(work, { recursive: true, force: true });
  }
  results.machine.loadAvgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  const files = writeReport(results, resolve(a.out));
  log(`wrote ${files.join(', ')}`);
}

main().catch((e: unknown) => {
  console.error(`bench/service: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exitCode = 1;
});
