// Bundles the CLI and every worker_threads entry (src/**/*.worker.ts) into dist/ with esbuild.
// npm packages stay external (zstd-napi is a native addon); workers land flat in dist/ so that
// io/worker-entry.ts finds them next to the bundle.
import { build } from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';

function workers(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...workers(p));
    else if (name.endsWith('.worker.ts')) out.push(p);
  }
  return out;
}

const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: true, logLevel: 'warning' };
await build({ ...common, entryPoints: { 'ctr-remote': 'src/cli/main.ts' }, outdir: 'dist', outExtension: { '.js': '.mjs' } });
const entries = Object.fromEntries(workers('src').map((p) => [basename(p, '.ts'), p]));
if (Object.keys(entries).length) await build({ ...common, entryPoints: entries, outdir: 'dist', outExtension: { '.js': '.mjs' } });
