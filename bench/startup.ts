// `npm run bench` (bench/run.sh): the HelloBench-style startup benchmark of issue 6. Builds the images
// (cached under bench/.cache/), pushes them to a local registry, converts them with our CLI, and times
// cold pull / create / run of every image × mode through a shaping proxy; writes startup.{json,md,svg,png}.
//
//   node --import tsx bench/startup.ts [--images busybox,python,node,payload] [--modes legacy,estargz-noopt,estargz]
//     [--samples 5] [--rtt-ms 20] [--mbps 100] [--out docs/benchmarks] [--period 10] [--no-skopeo]
//     [--convert-runs 3] [--no-background-fetch] [--payload-layers 4] [--payload-mib 100] [--no-build]
//   node --import tsx bench/startup.ts --report-only docs/benchmarks/startup.json   # rewrite md/svg/png from a JSON
// Needs root (optimize and run use FUSE, overlayfs and runc). See bench/README.md.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runStartupBench, type StartupResults } from './lib/startup-bench.js';
import { IMAGE_NAMES, type ImageName } from './lib/startup-images.js';
import { writeStartupReport } from './lib/startup-report.js';
import { MODES, type Mode } from './lib/startup-sample.js';

const ROOT = resolve(import.meta.dirname, '..');
const { values: a } = parseArgs({
  options: {
    images: { type: 'string', default: IMAGE_NAMES.join(',') },
    modes: { type: 'string', default: MODES.join(',') },
    samples: { type: 'string', default: '5' },
    'rtt-ms': { type: 'string', default: '20' },
    mbps: { type: 'string', default: '100' },
    out: { type: 'string', default: join(ROOT, 'docs', 'benchmarks') },
    period: { type: 'string', default: '10' },
    'no-skopeo': { type: 'boolean', default: false },
    'convert-runs': { type: 'string', default: '3' },
    'no-background-fetch': { type: 'boolean', default: false },
    'payload-layers': { type: 'string', default: '4' },
    'payload-mib': { type: 'string', default: '100' },
    'no-build': { type: 'boolean', default: false },
    'cache-dir': { type: 'string', default: join(ROOT, 'bench', '.cache') },
    'report-only': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

/** Split a comma list and check every item against `allowed`. */
function listOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const i of items) if (!allowed.includes(i as T)) throw new Error(`--${flag}: unknown ${JSON.stringify(i)} (one of ${allowed.join(', ')})`);
  return items as T[];
}

/** A non-negative number flag. */
function num(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${flag}: ${JSON.stringify(value)} is not a non-negative number`);
  return n;
}

/** `--report-only FILE`: rewrite the report next to FILE from its results (e.g. after editing startup.notes.md). */
function reportOnly(file: string): void {
  const results = JSON.parse(readFileSync(file, 'utf8')) as StartupResults & { command?: string };
  const files = writeStartupReport(results, resolve(file, '..'), results.command ?? 'npm run bench');
  console.log(`wrote ${Object.values(files).join(', ')}`);
}

async function main(): Promise<void> {
  if (a.help) return void console.log('usage: npm run bench -- [--images busybox,python,node,payload] [--modes legacy,estargz-noopt,estargz] [--samples 5]\n  [--rtt-ms 20] [--mbps 100] [--out docs/benchmarks] [--period 10] [--no-skopeo] [--convert-runs 3] [--no-background-fetch]\n  [--payload-layers 4] [--payload-mib 100] [--no-build] [--cache-dir bench/.cache] | --report-only startup.json   (see bench/README.md)');
  if (a['report-only']) return reportOnly(a['report-only']);
  const images = listOf<ImageName>('images', a.images, IMAGE_NAMES);
  const modes = listOf<Mode>('modes', a.modes, MODES);
  if (!a['no-build']) execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const results = await runStartupBench({
    images, modes,
    samples: Math.max(1, Math.floor(num('samples', a.samples))),
    rttMs: num('rtt-ms', a['rtt-ms']),
    mbps: num('mbps', a.mbps),
    period: num('period', a.period),
    cacheDir: resolve(a['cache-dir']),
    skopeo: !a['no-skopeo'],
    convertRuns: Math.floor(num('convert-runs', a['convert-runs'])),
    noBackgroundFetch: a['no-background-fetch'],
    payloadLayers: Math.floor(num('payload-layers', a['payload-layers'])),
    payloadMiB: num('payload-mib', a['payload-mib']),
    log: (line) => console.log(line),
  });
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
  const files = writeStartupReport(results, resolve(a.out), command);
  console.log(`\nwrote ${Object.values(files).join(', ')}`);
  for (const t of results.targets) console.log(`target ${t.name}: ${t.ratio.toFixed(3)} (≤ ${t.limit}) ${t.met ? 'met' : 'MISSED'}`);
}

main().catch((e: unknown) => {
  console.error(`bench/startup: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
