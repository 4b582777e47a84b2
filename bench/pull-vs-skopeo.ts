// Benchmark: full pull of a ~200 MB image (several gzip layers of random content, built here) from a local
// registry: our `ctr-remote image pull --plain-http` vs `skopeo copy docker://… oci:DIR` (Debian's skopeo,
// Go), alternating, median of N; the ratio (ours / skopeo, ≤ 1.0 is the target) goes to docs/benchmarks/pull.md.
//
//   node --import tsx bench/pull-vs-skopeo.ts [--runs 5] [--layers 5] [--layer-mb 40] [--rtt-ms 0] [--mbps 0]
//
// --rtt-ms/--mbps put the fault proxy in front of the registry (delay per request, one shared link bandwidth).
// When bin/ctr-remote has no `image pull` yet, the library pull (pullImage) is bundled with esbuild and timed
// as its own process instead, and the report says so.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { buildImage } from '../test/fixtures/image-builder.js';
import { startRegistry } from '../test/fixtures/registry.js';
import { startFaultProxy } from '../test/fixtures/fault-proxy.js';
import { OUR_ENV } from './lib/node-env.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    layers: { type: 'string', default: '5' },
    'layer-mb': { type: 'string', default: '40' },
    'rtt-ms': { type: 'string', default: '0' },
    mbps: { type: 'string', default: '0' },
  },
});
const runs = Number(values.runs);
const layerCount = Number(values.layers);
const layerMb = Number(values['layer-mb']);
const rttMs = Number(values['rtt-ms']);
const mbps = Number(values.mbps);

const work = mkdtempSync(join(tmpdir(), 'ctr-bench-pull-'));
const reg = await startRegistry();
const link = { ...(rttMs > 0 ? { rttMs } : {}), ...(mbps > 0 ? { bytesPerSec: (mbps * 1e6) / 8 } : {}) };
const proxy = rttMs > 0 || mbps > 0 ? await startFaultProxy(reg.url, { link }) : undefined;
const host = proxy?.host ?? reg.host;
try {
  console.log(`building ${layerCount} × ${layerMb} MB random layers ...`);
  const layout = join(work, 'src-layout');
  const img = await buildImage(layout, 'bench', {
    layers: Array.from({ length: layerCount }, (_, i) => ({
      entries: [{ path: `data/layer${i}.bin`, type: 'file' as const, content: randomBytes(layerMb << 20) }],
    })),
  });
  const totalBytes = img.layers.reduce((a, l) => a + l.size, 0);
  const ref = `${host}/bench/pull:1`;
  execFileSync('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${reg.host}/bench/pull:1`], { stdio: 'inherit' });

  const ours = await oursCommand();
  console.log(`ours: ${ours.label}`);
  const timesOurs: number[] = [];
  const timesSkopeo: number[] = [];
  for (let i = 0; i < runs; i++) {
    const root = join(work, `ours-${i}`);
    timesOurs.push(await timed(ours.cmd, [...ours.args(root, ref)], OUR_ENV));
    const dir = join(work, `skopeo-${i}`);
    timesSkopeo.push(await timed('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}:bench`]));
    rmSync(root, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    console.log(`run ${i + 1}: ours ${timesOurs[i]!.toFixed(2)} s, skopeo ${timesSkopeo[i]!.toFixed(2)} s`);
  }
  const startOurs: number[] = [];
  const startNode: number[] = [];
  const startSkopeo: number[] = [];
  for (let i = 0; i < 3; i++) {
    startOurs.push(await timed(join(repoRoot, 'bin/ctr-remote'), ['--version'], OUR_ENV));
    startNode.push(await timed(process.execPath, ['-e', '0'], OUR_ENV));
    startSkopeo.push(await timed('skopeo', ['--version']));
  }
  const mo = median(timesOurs);
  const ms = median(timesSkopeo);
  const ratio = mo / ms;
  console.log(`median: ours ${mo.toFixed(2)} s, skopeo ${ms.toFixed(2)} s, ratio ${ratio.toFixed(2)}`);
  writeReport({ totalBytes, mo, ms, ratio, timesOurs, timesSkopeo, label: ours.label, startOurs: median(startOurs), startNode: median(startNode), startSkopeo: median(startSkopeo) });
} finally {
  await proxy?.stop();
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Our pull command: the CLI when it has `image pull`, else the bundled library pull. */
async function oursCommand(): Promise<{ cmd: string; args: (root: string, ref: string) => string[]; label: string }> {
  const bin = join(repoRoot, 'bin/ctr-remote');
  const probe = spawnSync(bin, ['image', 'pull', '--help'], { encoding: 'utf8' });
  if (probe.status === 0 && /plain-http/.test(probe.stdout)) {
    return { cmd: bin, args: (root, ref) => ['--root', root, 'image', 'pull', '--plain-http', ref], label: 'bin/ctr-remote image pull --plain-http' };
  }
  const out = join(repoRoot, 'bench/results/tmp/pull-runner.mjs');
  mkdirSync(dirname(out), { recursive: true });
  await build({ entryPoints: [join(repoRoot, 'bench/pull-vs-skopeo.runner.ts')], outfile: out, bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', logLevel: 'warning' });
  return { cmd: process.execPath, args: (root, ref) => [out, root, ref], label: 'library pullImage() bundled as one node process (CLI `image pull` not wired yet)' };
}

/** Run a command to completion and return its wall time in seconds (async: the proxy lives in this process). */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (code === 0) resolve(Number(process.hrtime.bigint() - t0) / 1e9);
      else reject(new Error(`${cmd} ${args.join(' ')} failed with ${code ?? sig}: ${stderr}`));
    });
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function writeReport(r: { totalBytes: number; mo: number; ms: number; ratio: number; timesOurs: number[]; timesSkopeo: number[]; label: string; startOurs: number; startNode: number; startSkopeo: number }): void {
  const skopeoVersion = spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const shape = proxy ? `through the fault proxy: ${rttMs} ms per request, one ${mbps || '∞'} Mbit/s link` : 'loopback, no shaping';
  const md = [
    '# Full pull: ctr-remote vs skopeo',
    '',
    `Generated by \`node --import tsx bench/pull-vs-skopeo.ts --runs ${runs} --layers ${layerCount} --layer-mb ${layerMb}${rttMs ? ` --rtt-ms ${rttMs}` : ''}${mbps ? ` --mbps ${mbps}` : ''}\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `- Image: ${layerCount} gzip layers of random content, ${(r.totalBytes / 1e6).toFixed(1)} MB of layers, in Debian's docker-registry (distribution 2.8) on 127.0.0.1 (${shape}).`,
    `- Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ${skopeoVersion}.`,
    `- Ours: ${r.label}, fresh --root each run, without this sandbox's NODE_EXTRA_CA_CERTS (it makes every node process parse the whole system CA bundle at start, 0.1-0.2 s; skopeo, in Go, ignores it). Skopeo: \`skopeo copy --src-tls-verify=false docker://… oci:DIR\`, fresh DIR each run.`,
    `- Alternating runs, median of ${runs}. Both verify digests; both write an OCI layout.`,
    '',
    '| | median (s) | runs (s) |',
    '|---|---|---|',
    `| ctr-remote | ${r.mo.toFixed(2)} | ${r.timesOurs.map((t) => t.toFixed(2)).join(', ')} |`,
    `| skopeo | ${r.ms.toFixed(2)} | ${r.timesSkopeo.map((t) => t.toFixed(2)).join(', ')} |`,
    '',
    `**Ratio ours / skopeo: ${r.ratio.toFixed(2)}** (target ≤ 1.2 on loopback).`,
    '',
    `Process start-up alone (median of 3): \`ctr-remote --version\` ${r.startOurs.toFixed(2)} s, \`node -e 0\` ${r.startNode.toFixed(2)} s, \`skopeo --version\` ${r.startSkopeo.toFixed(2)} s.`,
    `The difference of the medians is ${(r.mo - r.ms).toFixed(2)} s, of which start-up (\`--version\` of each) is ${(r.startOurs - r.startSkopeo).toFixed(2)} s; a command that does work also loads its own modules (the registry client, the store), which \`--version\` does not.`,
    `Load average during the run: ${loadavg().map((x) => x.toFixed(1)).join(', ')} (1/5/15 min; other jobs share the machine when > ${cpus().length}).`,
    '',
  ].join('\n');
  const file = join(repoRoot, 'docs/benchmarks/pull.md');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, md);
  console.log(`wrote ${file}`);
}
