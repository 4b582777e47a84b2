// Benchmark (root) of the lazy-mount core, issue 4 "Benchmarks", driving the BUILT CLI (dist/ctr-remote.mjs):
//   a. cold lazy read of one small file from a ~400 MB image (rpull + mount + cat) through the shaping proxy
//      (20 ms RTT, 100 Mbit/s; test/fixtures/fault-proxy.ts) vs a full `image pull`: time and bytes;
//   b. once every chunk is cached and the page cache dropped: reading every file of a ~200 MB image (~6k small
//      files + 6 large ones) through the mount vs the same tree on local disk, and a find+stat walk: ratios;
//   c. peak RSS (VmHWM) of the serving process while a ~1 GB layer is read end to end;
//   d. as b, on a real root filesystem: the startup benchmark's Debian + python3 image (bench/lib/startup-images.ts,
//      ~8,200 entries, thousands of directories and symlinks) converted to eStargz by our `image convert`,
//      against a copy of the same tree on local disk (`cp -a` of the mount).
// Runs alternate (lazy/local, lazy/full) and each figure is the median of --runs. Writes docs/benchmarks/lazy.md
// (with docs/benchmarks/lazy.notes.md appended). $CTR_REMOTE_BENCH_CLI names another build to serve with.
//   npm run build && node --import tsx bench/lazy.ts [--runs 3] [--only a,b,c] [--big-mib 400] [--giant-mib 1000]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFaultProxy } from '../test/fixtures/fault-proxy.js';
import { startRegistry } from '../test/fixtures/registry.js';
import { summarize } from './lib/summary-stats.js';
import { prepareLazyImages, pushLayout, type LazyImageSizes } from './lazy-images.js';
import { CLI, startMount } from './lazy-mount.js';
import { prepareImage } from './lib/startup-images.js';

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    only: { type: 'string', default: 'a,b,c,d' },
    'big-mib': { type: 'string', default: '400' },
    'small-files': { type: 'string', default: '6000' },
    'large-mib': { type: 'string', default: '150' },
    'giant-mib': { type: 'string', default: '1000' },
    out: { type: 'string', default: 'docs/benchmarks/lazy.md' },
    'no-build': { type: 'boolean', default: false },
  },
});
if (process.getuid?.() !== 0) throw new Error('bench/lazy.ts needs root (FUSE mounts, overlayfs, drop_caches)');
const ROOT = resolve(import.meta.dirname, '..');
const runs = Number(args.runs);
const only = new Set(args.only.split(','));
const sizes: LazyImageSizes = {
  bigMiB: Number(args['big-mib']), treeSmallFiles: Number(args['small-files']), treeLargeMiB: Number(args['large-mib']), giantMiB: Number(args['giant-mib']),
};
const work = mkdtempSync(join(tmpdir(), 'bench-lazy-'));
const log = (m: string) => process.stderr.write(`[lazy bench] ${m}\n`);
const loadBefore = loadavg();
const MB = 1e6;

if (!args['no-build']) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });

function cli(argv: string[]): Promise<void> {
  return new Promise((res, rej) => {
    // image mount serves its layers itself: without the keeper an rpull would leave (src/image/lazy/layer-keeper.ts),
    // whose prefetch and background fetch would share the link with the read measured
    const child = spawn(process.execPath, [CLI, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, CTR_REMOTE_KEEPER: 'off' } });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('close', (code) => (code === 0 ? res() : rej(new Error(`ctr-remote ${argv.join(' ')} exited ${code}: ${err}`))));
  });
}

/** Run a shell command, returning its wall time in seconds and its stdout. */
function sh(script: string): Promise<{ s: number; out: string }> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('close', (code) => (code === 0 ? res({ s: (performance.now() - t0) / 1000, out }) : rej(new Error(`${script}: exit ${code}: ${err}`))));
  });
}

function dropCaches(): void {
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

const med = (xs: number[]) => summarize(xs).median;
const fmt = (x: number, d = 2) => x.toFixed(d);
const freshDir = (name: string) => {
  const d = join(work, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
};
const report: string[] = [];

const images = await prepareLazyImages(join(ROOT, 'bench', '.cache', 'lazy'), sizes, log);
const registry = await startRegistry();
const proxy = await startFaultProxy(registry.url, { link: { rttMs: 20, bytesPerSec: 12.5e6 } });
try {
  log('pushing images to the registry');
  const ref = (n: string, via = registry.host) => `${via}/bench/${n}:1`;
  if (only.has('a')) {
    await pushLayout(images.bigGzip, ref('big-gzip'), work);
    await pushLayout(images.bigEstargz, ref('big-esgz'), work);
  }
  if (only.has('b')) await pushLayout(images.treeEstargz, ref('tree-esgz'), work);
  if (only.has('c')) await pushLayout(images.giantEstargz, ref('giant-esgz'), work);

  if (only.has('a')) {
    const lazy: { s: number; bytes: number; rpull: number }[] = [];
    const full: { s: number; bytes: number }[] = [];
    for (let i = 0; i < runs; i++) {
      for (const mode of i % 2 ? ['full', 'lazy'] : ['lazy', 'full']) {
        const root = freshDir('a-root');
        const mnt = freshDir('a-mnt');
        dropCaches();
        proxy.stats.reset();
        const t0 = performance.now();
        if (mode === 'full') {
          await cli(['--root', root, 'image', 'pull', '--plain-http', ref('big-gzip', proxy.host)]);
          full.push({ s: (performance.now() - t0) / 1000, bytes: proxy.stats.totalBytes });
        } else {
          await cli(['--root', root, 'image', 'rpull', '--plain-http', ref('big-esgz', proxy.host)]);
          const rpull = (performance.now() - t0) / 1000;
          const m = await startMount(root, ref('big-esgz', proxy.host), mnt);
          try {
            const { out } = await sh(`cat ${mnt}/${images.smallFile}`);
            if (!out.startsWith('hello')) throw new Error(`wrong content of ${images.smallFile}: ${out}`);
            lazy.push({ s: (performance.now() - t0) / 1000, bytes: proxy.stats.totalBytes, rpull });
          } finally {
            await m.stop();
          }
        }
        log(`a ${mode} run ${i + 1}: ${fmt(mode === 'full' ? full.at(-1)!.s : lazy.at(-1)!.s)} s`);
      }
    }
    report.push(
      `## a. Cold read of one small file from a ${sizes.bigMiB} MiB image (20 ms RTT, 100 Mbit/s)`, '',
      '| | time (s) | bytes through the proxy |', '|---|---|---|',
      `| lazy: rpull + mount + cat (rpull alone ${fmt(med(lazy.map((x) => x.rpull)))} s) | ${fmt(med(lazy.map((x) => x.s)))} | ${fmt(med(lazy.map((x) => x.bytes)) / MB, 1)} MB |`,
      `| full: image pull | ${fmt(med(full.map((x) => x.s)))} | ${fmt(med(full.map((x) => x.bytes)) / MB, 1)} MB |`,
      `| ratio full / lazy | ${fmt(med(full.map((x) => x.s)) / med(lazy.map((x) => x.s)), 1)}× | ${fmt(med(full.map((x) => x.bytes)) / med(lazy.map((x) => x.bytes)), 0)}× |`, '',
    );
  }

  /** Cached reads of the mount at `mnt` (every chunk local) against `localDir`, alternating, page cache dropped. */
  async function cachedReads(tag: string, mnt: string, localDir: string) {
    await sh(`tar -C ${mnt} -cf - . | wc -c`); // everything read once (and cached) before measuring
    const t = { lazyRead: [] as number[], localRead: [] as number[], lazyStat: [] as number[], localStat: [] as number[] };
    let bytes = 0;
    for (let i = 0; i < runs; i++) {
      for (const side of i % 2 ? ['local', 'lazy'] : ['lazy', 'local']) {
        const dir = side === 'lazy' ? mnt : localDir;
        dropCaches();
        const r = await sh(`tar -C ${dir} -cf - . | wc -c`);
        if (bytes && Number(r.out) !== bytes) throw new Error(`tar of ${dir} gave ${r.out} bytes, the other side ${bytes}`);
        bytes = Number(r.out);
        (side === 'lazy' ? t.lazyRead : t.localRead).push(r.s);
        dropCaches();
        const st = await sh(`find ${dir} -exec stat -c '%s %Y' {} + | wc -l`);
        (side === 'lazy' ? t.lazyStat : t.localStat).push(st.s);
        log(`${tag} ${side} run ${i + 1}: read ${fmt(r.s)} s, stat walk ${fmt(st.s)} s`);
      }
    }
    return {
      bytes,
      rows: [
        '| | lazy mount (s) | local disk (s) | ratio |', '|---|---|---|---|',
        `| sequential read (\`tar -cf - . \\| wc -c\`) | ${fmt(med(t.lazyRead))} | ${fmt(med(t.localRead))} | ${fmt(med(t.lazyRead) / med(t.localRead))}× |`,
        `| stat walk (\`find -exec stat {} +\`) | ${fmt(med(t.lazyStat))} | ${fmt(med(t.localStat))} | ${fmt(med(t.lazyStat) / med(t.localStat))}× |`,
      ],
    };
  }

  if (only.has('b')) {
    const root = freshDir('b-root');
    const mnt = freshDir('b-mnt');
    const m = await startMount(root, ref('tree-esgz'), mnt);
    try {
      await m.backgroundDone();
      const { bytes, rows } = await cachedReads('b', mnt, images.treeDir);
      const rss = await m.peakRss();
      report.push(
        `## b. Every file of a ${fmt(bytes / MB, 0)} MB tree (${sizes.treeSmallFiles} small files + 6 large), all chunks cached, page cache dropped`, '',
        ...rows, '', `Peak RSS of the serving process: ${fmt(rss / 2 ** 20, 0)} MiB.`, '',
      );
    } finally {
      await m.stop();
    }
  }

  if (only.has('d')) {
    const python = await prepareImage('python', { cacheDir: join(ROOT, 'bench', '.cache'), log });
    const esgz = join(work, 'python-esgz');
    await cli(['--root', freshDir('d-convert'), 'image', 'convert', '--estargz', '--oci', `oci:${python.layout}:${python.tag}`, `oci:${esgz}:esgz`]);
    await pushLayout(`oci:${esgz}:esgz`, ref('python-esgz'), work);
    const root = freshDir('d-root');
    const mnt = freshDir('d-mnt');
    const localDir = freshDir('d-local');
    const m = await startMount(root, ref('python-esgz'), mnt);
    try {
      await m.backgroundDone();
      await sh(`cp -a ${mnt}/. ${localDir}/`);
      const entries = Number((await sh(`find ${mnt} | wc -l`)).out);
      const { bytes, rows } = await cachedReads('d', mnt, localDir);
      const rss = await m.peakRss();
      report.push(
        `## d. A real root filesystem: ${python.description} (${entries} entries, ${fmt(bytes / MB, 0)} MB as tar), all chunks cached, page cache dropped`, '',
        'The local side is a `cp -a` of the mounted tree on the same disk.', '',
        ...rows, '', `Peak RSS of the serving process: ${fmt(rss / 2 ** 20, 0)} MiB.`, '',
      );
    } finally {
      await m.stop();
    }
  }

  if (only.has('c')) {
    const root = freshDir('c-root');
    const mnt = freshDir('c-mnt');
    dropCaches();
    const m = await startMount(root, ref('giant-esgz'), mnt);
    try {
      const r = await sh(`tar -C ${mnt} -cf - . | wc -c`);
      const afterRead = await m.peakRss();
      await m.backgroundDone();
      const rss = await m.peakRss();
      log(`c read ${fmt(r.s)} s, peak RSS ${fmt(rss / 2 ** 20, 0)} MiB`);
      report.push(
        `## c. Peak RSS while serving a ${fmt(Number(r.out) / MB, 0)} MB layer`, '',
        `Cold read of every file through the mount (registry on loopback, background fetch on): ${fmt(r.s, 1)} s. `
        + `Peak RSS (VmHWM) of the serving process: ${fmt(afterRead / 2 ** 20, 0)} MiB after the read, `
        + `${fmt(rss / 2 ** 20, 0)} MiB once the background fetch had finished.`, '',
      );
    } finally {
      await m.stop();
    }
  }
} finally {
  await proxy.stop();
  await registry.stop();
  rmSync(work, { recursive: true, force: true });
}

const cpu = cpus()[0]?.model ?? 'unknown cpu';
const head = [
  '# Lazy-mount benchmark', '',
  `Generated by \`node --import tsx bench/lazy.ts\` on ${new Date().toISOString()}: ${cpus().length} × ${cpu}, `
  + `${fmt(totalmem() / 2 ** 30, 0)} GiB RAM, Node ${process.version}, Linux ${execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim()}. `
  + `Load average before ${loadBefore.map((x) => fmt(x)).join(' ')}, after ${loadavg().map((x) => fmt(x)).join(' ')} (other jobs shared the machine). `
  + `Median of ${runs} alternating runs; the serving process is the built CLI (\`image mount\`).`, '',
];
const out = resolve(ROOT, args.out);
// hand-written analysis kept next to the report survives reruns (update it when the numbers change)
const notesPath = out.replace(/\.md$/, '.notes.md');
const notes = existsSync(notesPath) ? ['', readFileSync(notesPath, 'utf8').trimEnd()] : [];
const text = [...head, ...report, ...notes].join('\n');
writeFileSync(out, `${text}\n`);
process.stdout.write(`${text}\n`);
