// Files of the startup benchmark: startup.json (everything measured), startup.md (tables, targets, the
// method; then startup.notes.md, the hand-written analysis, when it exists next to it), startup.svg (the
// stacked chart) and startup.png when rsvg-convert (librsvg2-bin) is installed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModeSummary, StartupResults } from './startup-bench.js';
import { stackedBarSvg } from './stacked-bar-svg.js';

/** Paths written by writeStartupReport. */
export interface ReportFiles {
  json: string;
  markdown: string;
  svg: string;
  png?: string;
}

/** Write the report files of `r` into `outDir` (created when missing). */
export function writeStartupReport(r: StartupResults, outDir: string, command: string): ReportFiles {
  mkdirSync(outDir, { recursive: true });
  const files: ReportFiles = { json: join(outDir, 'startup.json'), markdown: join(outDir, 'startup.md'), svg: join(outDir, 'startup.svg') };
  writeFileSync(files.json, `${JSON.stringify({ ...r, command }, null, 2)}\n`);
  writeFileSync(files.svg, chartOf(r));
  const png = join(outDir, 'startup.png');
  if (spawnSync('rsvg-convert', ['-o', png, files.svg]).status === 0) files.png = png;
  const notes = join(outDir, 'startup.notes.md');
  writeFileSync(files.markdown, markdownOf(r, command, existsSync(notes) ? readFileSync(notes, 'utf8') : undefined));
  return files;
}

function chartOf(r: StartupResults): string {
  return stackedBarSvg({
    title: 'Container start-up: pull + create + run (median seconds)',
    subtitle: `${r.link.rttMs} ms RTT, ${r.link.mbps || '∞'} Mbit/s; bars stack the phase medians of ${r.options.samples} cold samples; ${r.machine.cpus} cores, ${r.date.slice(0, 10)}`,
    unit: 'seconds',
    phases: [
      { name: 'pull', color: '#4e79a7' },
      { name: 'create', color: '#f28e2b' },
      { name: 'run', color: '#59a14f' },
    ],
    bars: r.summary.map((s) => ({ group: s.image, label: s.mode, values: [s.pull.median, s.create.median, s.run.median] })),
  });
}

const sec = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const mb = (v: number) => (Number.isFinite(v) ? (v / 1e6).toFixed(2) : '–');

function markdownOf(r: StartupResults, command: string, notes: string | undefined): string {
  const m = r.machine;
  const legacy = (image: string) => r.summary.find((s) => s.image === image && s.mode === 'legacy');
  const lines = [
    '# Startup benchmark: legacy vs estargz-noopt vs estargz (HelloBench-style)',
    '',
    `Measured ${r.date.replace('T', ' ').slice(0, 16)} UTC by \`${command}\` on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}; load average at the end ${m.loadAvg.join(' ')} (other jobs share the machine: read ratios, not absolute times).`,
    `Network: the CLI talks to a local registry (Debian's docker-registry 2.8) through a shaping proxy (test/fixtures/fault-proxy.ts): ${r.link.rttMs} ms added before each request, one shared ${r.link.mbps || 'unlimited'} Mbit/s link for all response bodies. ${r.options.samples} cold samples per image × mode, modes interleaved.`,
    '',
    '![startup chart](startup.svg)',
    '',
    '## Results (seconds: median, p95 in parentheses)',
    '',
    '| image | mode | pull | create | run | **total** | first output | fetched at pull | fetched at create+run (requests) | total vs legacy |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.summary.map((s) => row(s, legacy(s.image))),
    '',
    'Phases: **pull** = `image pull` (legacy) or `image rpull` (eStargz) until exit; **create** = `run --rm` from its start until it',
    'starts `runc run` (store, FUSE mounts and prefetch wait, or unpacking the layers for legacy; overlayfs; the bundle); **run** = from',
    '`runc run` until the CLI exits (container start, the workload, teardown and unmount). The split comes from a `runc` shim first in',
    'PATH that logs when it is called (one `date` fork, ~1 ms). *First output* is from the start of `run` to the first byte the workload',
    `printed. Bytes are response bodies through the proxy (MB = 10^6). eStargz runs use the CLI default (background fetch ${r.options.noBackgroundFetch ? 'off: `--no-background-fetch`' : 'on'}).`,
    'Before every sample: a new empty `--root` (store, cache, snapshots) and, as root, `sync; echo 3 > /proc/sys/vm/drop_caches`.',
    '',
    '## Targets (medians of pull + create + run)',
    '',
    '| target | ratio | limit | met |',
    '|---|---|---|---|',
    ...r.targets.map((t) => `| ${t.name} | ${t.ratio.toFixed(3)} | ≤ ${t.limit} | ${t.met ? 'yes' : '**no**'} |`),
    '',
    '## Peers',
    '',
    ...(r.skopeoSummary.length
      ? [
          '`skopeo copy docker://… oci:…` (Debian skopeo, Go) pulling the same legacy image through the same proxy, cold, right after each legacy sample:',
          '',
          '| image | skopeo copy | our `image pull` | ours / skopeo |',
          '|---|---|---|---|',
          ...r.skopeoSummary.map((k) => `| ${k.image} | ${sec(k.seconds.median)} (${sec(k.seconds.p95)}) | ${sec(k.oursLegacyPull.median)} (${sec(k.oursLegacyPull.p95)}) | ${k.ratio.toFixed(2)}× |`),
          '',
        ]
      : ['skopeo: not run.', '']),
    ...(r.convert
      ? [
          `\`image convert --estargz --oci\` at level 9 (bench/convert.ts, ${r.convert.input}): ours ${sec(r.convert.oursSummary.median)} s, Debian's ctr-remote 0.12 ${sec(r.convert.referenceSummary.median)} s (medians of ${r.convert.ours.length}) → **${r.convert.ratio.toFixed(2)}×** the reference's time.`,
          '',
        ]
      : ['Reference convert: not run in this benchmark run (see convert.md).', '']),
    '## Images',
    '',
    '| image | what | layers | legacy (gzip) | estargz-noopt | estargz | noopt convert | optimize |',
    '|---|---|---|---|---|---|---|---|',
    ...r.images.map((i) => `| ${i.name} | ${i.description} | ${i.layers} | ${mb(i.variantBytes.legacy ?? NaN)} MB | ${mb(i.variantBytes['estargz-noopt'] ?? NaN)} MB | ${mb(i.variantBytes.estargz ?? NaN)} MB | ${sec(i.convertSeconds['estargz-noopt'] ?? NaN)} s | ${sec(i.convertSeconds.estargz ?? NaN)} s |`),
    '',
    'Raw samples: [startup.json](startup.json).',
    '',
  ];
  if (notes) lines.push(notes.trimEnd(), '');
  return lines.join('\n');
}

function row(s: ModeSummary, legacy: ModeSummary | undefined): string {
  const p = (x: { median: number; p95: number }) => `${sec(x.median)} (${sec(x.p95)})`;
  const vs = legacy ? `${(s.total.median / legacy.total.median).toFixed(2)}×` : '–';
  return `| ${s.image} | ${s.mode} | ${p(s.pull)} | ${p(s.create)} | ${p(s.run)} | **${p(s.total)}** | ${sec(s.firstOutput.median)} | ${mb(s.pullBytes.median)} MB | ${mb(s.runBytes.median)} MB (${s.runRequests.median}) | ${vs} |`;
}
