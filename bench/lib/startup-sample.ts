// One cold-start sample of one image in one mode: a fresh store root, the page cache dropped (as root),
// then `image pull` (legacy) or `image rpull` (eStargz) and `run --rm` of the image's workload through
// the shaping proxy, timed per phase with the bytes the proxy sent in each.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FaultProxy } from '../../test/fixtures/fault-proxy.js';
import type { RuncProbe } from './runc-probe.js';
import type { BenchImage } from './startup-images.js';
import { mustRun, timedProcess } from './timed-process.js';

/** Image variants compared: the gzip image, eStargz without priorities, eStargz optimized for the workload. */
export const MODES = ['legacy', 'estargz-noopt', 'estargz'] as const;
export type Mode = (typeof MODES)[number];

/** Registry tag of each mode's variant. */
export const MODE_TAGS: Record<Mode, string> = { legacy: 'org', 'estargz-noopt': 'esgz-noopt', estargz: 'esgz' };

/** What the sampler needs: the CLI, the proxy in front of the registry, scratch space. */
export interface SampleContext {
  /** argv prefix running the CLI, e.g. [bin/ctr-remote]. */
  cli: string[];
  proxy: FaultProxy;
  /** Scratch directory for store roots. */
  work: string;
  probe: RuncProbe;
  /** Pass `--no-background-fetch` to run. Default false (the CLI default: background fetch on). */
  noBackgroundFetch?: boolean;
  /** Drop the page cache before each sample (root only). */
  dropCaches: boolean;
  signal?: AbortSignal;
}

/** Bytes and requests the proxy served in one phase. */
export interface Traffic {
  bytes: number;
  requests: number;
}

/** One sample's timings in seconds. `create` ends when runc is started; `run` lasts until the CLI exits. */
export interface Sample {
  image: string;
  mode: Mode;
  index: number;
  pull: number;
  create: number;
  run: number;
  total: number;
  /** From the start of `run` to the workload's first stdout byte. */
  firstOutput: number;
  pullTraffic: Traffic;
  runTraffic: Traffic;
  /** Requests the proxy served during create+run, for profiles (ms relative to the start of `run`). */
  runTimeline: TimelineEntry[];
}

/** One proxied request: when it arrived and how long its response took, relative to a phase start. */
export interface TimelineEntry {
  atMs: number;
  ms: number;
  bytes: number;
  /** Blob digest prefix or manifest path, and the Range header when there was one. */
  what: string;
}

/** Repository of an image in the registry. */
export function repoOf(image: BenchImage): string {
  return `bench/${image.name}`;
}

/** Measure one cold start of `image` in `mode` (see the module comment). */
export async function runSample(ctx: SampleContext, image: BenchImage, mode: Mode, index: number): Promise<Sample> {
  const root = join(ctx.work, 'roots', `${image.name}-${mode}-${index}`);
  rmSync(root, { recursive: true, force: true });
  const ref = `${ctx.proxy.host}/${repoOf(image)}:${MODE_TAGS[mode]}`;
  const [cmd, ...pre] = ctx.cli as [string, ...string[]];
  try {
    coldCaches(ctx);
    ctx.proxy.stats.reset();
    const pull = await mustRun(cmd, [...pre, '--root', root, 'image', mode === 'legacy' ? 'pull' : 'rpull', '--plain-http', ref], process.env, ctx.signal);
    const pullTraffic = traffic(ctx.proxy);
    ctx.proxy.stats.reset();
    ctx.probe.reset();
    const runArgs = ['run', '--rm', ...(ctx.noBackgroundFetch && mode !== 'legacy' ? ['--no-background-fetch'] : []), ref, `bench-${index}`];
    const run = await timedProcess(cmd, [...pre, '--root', root, ...runArgs], { ...process.env, ...ctx.probe.env }, ctx.signal);
    const runTraffic = traffic(ctx.proxy);
    const runTimeline = timeline(ctx.proxy, run.startedAt);
    if (run.exitCode !== 0) throw new Error(`${image.name}/${mode}: run exited ${run.exitCode}: ${run.stderr.trim()}`);
    if (!image.expect.test(run.stdout)) throw new Error(`${image.name}/${mode}: the workload printed ${JSON.stringify(run.stdout.slice(0, 200))}, not ${image.expect}`);
    const runcAt = ctx.probe.runStartedAt();
    if (runcAt === undefined) throw new Error(`${image.name}/${mode}: runc was never started with 'run'`);
    const s = (ms: number) => ms / 1000;
    const pullSec = s(pull.exitedAt - pull.startedAt);
    return {
      image: image.name, mode, index,
      pull: pullSec,
      create: s(runcAt - run.startedAt),
      run: s(run.exitedAt - runcAt),
      total: pullSec + s(run.exitedAt - run.startedAt),
      firstOutput: s((run.firstOutputAt ?? run.exitedAt) - run.startedAt),
      pullTraffic, runTraffic, runTimeline,
    };
  } finally {
    // rpull left the root's keeper serving the lazy layers (src/image/lazy/layer-keeper.ts): it ends with its mounts
    if (mode !== 'legacy') spawnSync(cmd, [...pre, 'snapshotter', 'stop', '--root', root, '--unmount'], { stdio: 'ignore' });
    removeRoot(root);
  }
}

/** One `skopeo copy docker://… oci:…` full pull of the legacy image through the proxy, cold. */
export async function skopeoSample(ctx: SampleContext, image: BenchImage, index: number): Promise<{ seconds: number; traffic: Traffic }> {
  const dir = join(ctx.work, 'skopeo', `${image.name}-${index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  try {
    coldCaches(ctx);
    ctx.proxy.stats.reset();
    const src = `docker://${ctx.proxy.host}/${repoOf(image)}:${MODE_TAGS.legacy}`;
    const r = await mustRun('skopeo', ['copy', '-q', '--src-tls-verify=false', src, `oci:${dir}:${image.name}`], process.env, ctx.signal);
    return { seconds: (r.exitedAt - r.startedAt) / 1000, traffic: traffic(ctx.proxy) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function timeline(proxy: FaultProxy, since: number): TimelineEntry[] {
  return proxy.stats.requests.map((r) => ({
    atMs: r.startedAt - since,
    ms: r.durationMs ?? -1,
    bytes: r.bytes,
    what: `${r.path.replace(/^.*\/(blobs|manifests)\/(sha256:)?/, '$1/').slice(0, 22)}${r.range ? ` ${r.range}` : ''}`,
  }));
}

function traffic(proxy: FaultProxy): Traffic {
  return { bytes: proxy.stats.totalBytes, requests: proxy.stats.requests.length };
}

/** Write back dirty pages and drop the page, dentry and inode caches (root only; a no-op otherwise). */
function coldCaches(ctx: SampleContext): void {
  if (!ctx.dropCaches) return;
  spawnSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

/** Remove a sample's root, refusing when something is still mounted below it (never delete through a mount). */
function removeRoot(root: string): void {
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => (l.split(' ')[4] ?? '').startsWith(`${root}/`));
  if (mounted) throw new Error(`${root}: a mount is still active below the store root after run --rm`);
  rmSync(root, { recursive: true, force: true });
}
