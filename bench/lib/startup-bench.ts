// The startup benchmark (issue 6) as a library: start a registry and a shaping proxy in front of it, build
// and push the images, convert them with our CLI (estargz-noopt, estargz), then take cold-start samples of
// every image × mode (modes interleaved per sample so drifting load hits all alike), plus the peers:
// skopeo's full pull of the same legacy image through the same proxy, and bench/convert.ts (ours vs the
// reference ctr-remote convert). bench/startup.ts is the command line; startup-report.ts writes the files.
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startFaultProxy } from '../../test/fixtures/fault-proxy.js';
import { startRegistry, type RegistryFixture } from '../../test/fixtures/registry.js';
import { runConvertPeer, type ConvertPeer } from './convert-peer.js';
import { createRuncProbe } from './runc-probe.js';
import { prepareImage, type BenchImage, type ImageName } from './startup-images.js';
import { MODE_TAGS, repoOf, runSample, skopeoSample, type Mode, type Sample, type SampleContext, type Traffic } from './startup-sample.js';
import { summarize, type Summary } from './summary-stats.js';
import { mustRun } from './timed-process.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

export interface StartupOptions {
  images: ImageName[];
  modes: Mode[];
  /** Samples per image × mode. */
  samples: number;
  /** Added before each proxied request (one round trip), ms. */
  rttMs: number;
  /** Shared link bandwidth, Mbit/s (0 = unlimited). */
  mbps: number;
  /** `optimize --period` seconds (the workload ends earlier when it exits). */
  period: number;
  /** Bench cache (debootstrap trees, image layouts). */
  cacheDir: string;
  /** Run skopeo copy next to every legacy sample. */
  skopeo: boolean;
  /** Run bench/convert.ts (ours vs the reference convert) with this many runs; 0 = skip. */
  convertRuns: number;
  /** `run --no-background-fetch` for eStargz modes. */
  noBackgroundFetch: boolean;
  /** Payload image shape. */
  payloadLayers: number;
  payloadMiB: number;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** Medians and p95s of one image × mode. */
export interface ModeSummary {
  image: ImageName;
  mode: Mode;
  samples: number;
  pull: Summary;
  create: Summary;
  run: Summary;
  total: Summary;
  firstOutput: Summary;
  pullBytes: Summary;
  runBytes: Summary;
  runRequests: Summary;
}

/** How an image was set up in the registry, and its variants' sizes. */
export interface ImageSetup {
  name: ImageName;
  description: string;
  layers: number;
  /** Compressed layer bytes of each pushed variant. */
  variantBytes: Partial<Record<Mode, number>>;
  /** Seconds our CLI took to make each eStargz variant (optimize --no-optimize, optimize). */
  convertSeconds: Partial<Record<Mode, number>>;
}

export interface TargetCheck {
  name: string;
  ratio: number;
  limit: number;
  met: boolean;
}

export interface StartupResults {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string; node: string; root: boolean; /** 1/5/15-minute load average at the end (other work on the machine). */ loadAvg: number[] };
  link: { rttMs: number; mbps: number };
  options: Omit<StartupOptions, 'log' | 'signal' | 'cacheDir'>;
  images: ImageSetup[];
  samples: Sample[];
  summary: ModeSummary[];
  skopeo: { image: ImageName; seconds: number; traffic: Traffic }[];
  skopeoSummary: { image: ImageName; seconds: Summary; oursLegacyPull: Summary; ratio: number }[];
  convert?: ConvertPeer;
  targets: TargetCheck[];
}

/** Run the whole benchmark (see the module comment). Needs root for optimize and run. */
export async function runStartupBench(o: StartupOptions): Promise<StartupResults> {
  if (process.getuid?.() !== 0) throw new Error('the startup benchmark needs root: optimize and run use FUSE, overlayfs and runc');
  const work = mkdtempSync(join(tmpdir(), 'ctr-bench-startup-'));
  const reg = await startRegistry();
  const link = { rttMs: o.rttMs, ...(o.mbps > 0 ? { bytesPerSec: (o.mbps * 1e6) / 8 } : {}) };
  const proxy = await startFaultProxy(reg.url, { link });
  try {
    const cli = [join(REPO_ROOT, 'bin', 'ctr-remote')]; // the sh launcher, as users run it
    const ctx: SampleContext = { cli, proxy, work, probe: createRuncProbe(join(work, 'runc-probe')), noBackgroundFetch: o.noBackgroundFetch, dropCaches: true, signal: o.signal };
    const images: BenchImage[] = [];
    const setups: ImageSetup[] = [];
    for (const name of o.images) {
      const image = await prepareImage(name, { cacheDir: o.cacheDir, payloadLayers: o.payloadLayers, payloadMiB: o.payloadMiB, log: o.log, signal: o.signal });
      images.push(image);
      setups.push(await pushVariants(cli, reg, image, o, join(work, 'builder')));
    }
    const samples: Sample[] = [];
    const skopeo: StartupResults['skopeo'] = [];
    for (const image of images) {
      for (let i = 0; i < o.samples; i++) {
        for (const mode of o.modes) {
          const s = await runSample(ctx, image, mode, i);
          samples.push(s);
          o.log(`${image.name} ${mode} #${i + 1}: pull ${s.pull.toFixed(2)} s (${mb(s.pullTraffic.bytes)}), create ${s.create.toFixed(2)} s, run ${s.run.toFixed(2)} s (${mb(s.runTraffic.bytes)}), total ${s.total.toFixed(2)} s`);
        }
        if (o.skopeo && o.modes.includes('legacy')) {
          const k = await skopeoSample(ctx, image, i);
          skopeo.push({ image: image.name, ...k });
          o.log(`${image.name} skopeo copy #${i + 1}: ${k.seconds.toFixed(2)} s (${mb(k.traffic.bytes)})`);
        }
      }
    }
    const convert = o.convertRuns > 0 ? await runConvertPeer(o.convertRuns, o.log) : undefined;
    const summary = summarizeSamples(samples);
    return {
      date: new Date().toISOString(),
      machine: machine(),
      link: { rttMs: o.rttMs, mbps: o.mbps },
      options: { images: o.images, modes: o.modes, samples: o.samples, rttMs: o.rttMs, mbps: o.mbps, period: o.period, skopeo: o.skopeo, convertRuns: o.convertRuns, noBackgroundFetch: o.noBackgroundFetch, payloadLayers: o.payloadLayers, payloadMiB: o.payloadMiB },
      images: setups,
      samples,
      summary,
      skopeo,
      skopeoSummary: summarizeSkopeo(skopeo, samples),
      ...(convert ? { convert } : {}),
      targets: checkTargets(summary),
    };
  } finally {
    await proxy.stop();
    await reg.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** Push the legacy image and the eStargz variants our CLI makes of it, straight to the registry (unshaped). */
async function pushVariants(cli: string[], reg: RegistryFixture, image: BenchImage, o: StartupOptions, builder: string): Promise<ImageSetup> {
  const [cmd, ...pre] = cli as [string, ...string[]];
  const ctr = (...args: string[]) => mustRun(cmd, [...pre, '--root', builder, ...args], process.env, o.signal);
  const ref = (mode: Mode) => `${reg.host}/${repoOf(image)}:${MODE_TAGS[mode]}`;
  await ctr('image', 'tag', `oci:${image.layout}:${image.tag}`, ref('legacy'));
  await ctr('image', 'push', '--plain-http', ref('legacy'));
  const setup: ImageSetup = { name: image.name, description: image.description, layers: image.layers, variantBytes: { legacy: await layerBytes(reg, image, 'legacy') }, convertSeconds: {} };
  for (const mode of o.modes.filter((m) => m !== 'legacy')) {
    const flags = mode === 'estargz' ? ['--period', String(o.period)] : ['--no-optimize'];
    o.log(`${image.name}: image optimize --oci ${flags.join(' ')} ...`);
    const r = await ctr('image', 'optimize', '--oci', ...flags, ref('legacy'), ref(mode));
    setup.convertSeconds[mode] = (r.exitedAt - r.startedAt) / 1000;
    await ctr('image', 'push', '--plain-http', ref(mode));
    setup.variantBytes[mode] = await layerBytes(reg, image, mode);
  }
  return setup;
}

/** Sum of the layer sizes of the manifest pushed under the mode's tag. */
async function layerBytes(reg: RegistryFixture, image: BenchImage, mode: Mode): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repoOf(image)}/manifests/${MODE_TAGS[mode]}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  if (!res.ok) throw new Error(`manifest of ${repoOf(image)}:${MODE_TAGS[mode]}: HTTP ${res.status}`);
  const m = (await res.json()) as { layers?: { size: number }[] };
  return (m.layers ?? []).reduce((a, l) => a + l.size, 0);
}

function summarizeSamples(samples: Sample[]): ModeSummary[] {
  const groups = new Map<string, Sample[]>();
  for (const s of samples) groups.set(`${s.image}\0${s.mode}`, [...(groups.get(`${s.image}\0${s.mode}`) ?? []), s]);
  return [...groups.values()].map((g) => {
    const f = (pick: (s: Sample) => number) => summarize(g.map(pick));
    const first = g[0] as Sample;
    return {
      image: first.image as ImageName, mode: first.mode, samples: g.length,
      pull: f((s) => s.pull), create: f((s) => s.create), run: f((s) => s.run), total: f((s) => s.total), firstOutput: f((s) => s.firstOutput),
      pullBytes: f((s) => s.pullTraffic.bytes), runBytes: f((s) => s.runTraffic.bytes), runRequests: f((s) => s.runTraffic.requests),
    };
  });
}

function summarizeSkopeo(skopeo: StartupResults['skopeo'], samples: Sample[]): StartupResults['skopeoSummary'] {
  const names = [...new Set(skopeo.map((k) => k.image))];
  return names.map((image) => {
    const seconds = summarize(skopeo.filter((k) => k.image === image).map((k) => k.seconds));
    const oursLegacyPull = summarize(samples.filter((s) => s.image === image && s.mode === 'legacy').map((s) => s.pull));
    return { image, seconds, oursLegacyPull, ratio: oursLegacyPull.median / seconds.median };
  });
}

/** The targets, on medians of pull + create + run. */
function checkTargets(summary: ModeSummary[]): TargetCheck[] {
  const total = (image: string, mode: Mode) => summary.find((s) => s.image === image && s.mode === mode)?.total.median;
  const out: TargetCheck[] = [];
  const add = (name: string, a: number | undefined, b: number | undefined, limit: number) => {
    if (a !== undefined && b !== undefined) out.push({ name, ratio: a / b, limit, met: a / b <= limit });
  };
  add('payload: estargz / legacy', total('payload', 'estargz'), total('payload', 'legacy'), 0.15);
  add('python: estargz / legacy', total('python', 'estargz'), total('python', 'legacy'), 0.3);
  add('busybox: estargz-noopt / legacy', total('busybox', 'estargz-noopt'), total('busybox', 'legacy'), 1.1);
  return out;
}

function machine(): StartupResults['machine'] {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    root: process.getuid?.() === 0,
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}


function mb(n: number): string {
  return `${(n / 1e6).toFixed(2)} MB`;
}
