// Builds dist/ with esbuild, npm packages bundled in (zstd-napi stays external: it is a native addon):
//   dist/ctr-remote.mjs      the executable's entry (src/cli/launch.ts): the version probe, then the bundle
//   dist/ctr-remote.cjs      the rest of the tool as one CommonJS bundle (src/cli/cli-main.ts), which the entry
//                            runs through V8's code cache:
//   dist/ctr-remote.cjs.cache  that cache, written by a training run of the built tool (`--help`, with node's
//                            default flags), so a command starts without compiling the bundle again
//   dist/<name>.worker.mjs   every worker_threads entry (src/**/*.worker.ts), ESM, next to the bundle where
//                            host/worker-entry.ts finds them
// Start-up, measured: see docs/DECISIONS.md, "Build".
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

function workers(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...workers(p));
    else if (name.endsWith('.worker.ts')) out.push(p);
  }
  return out;
}

// undici's HTTP/2 client loads node:http2 and node:tls as it loads; the tool never asks for HTTP/2
// (scripts/undici-no-h2.cjs says why the stand-in is safe)
const noHttp2 = {
  name: 'undici-no-h2',
  setup(b) {
    b.onResolve({ filter: /^\.\/client-h2\.js$/ }, (args) => (/[\\/]node_modules[\\/]undici[\\/]/.test(args.importer) ? { path: fileURLToPath(new URL('./undici-no-h2.cjs', import.meta.url)) } : undefined));
  },
};

const common = { bundle: true, platform: 'node', target: 'node20', external: ['zstd-napi'], sourcemap: true, logLevel: 'warning', plugins: [noHttp2] };
// Bundled CommonJS dependencies call require(); give ESM output one.
const esmRequire = "import { createRequire as __ctrCreateRequire } from 'node:module'; const require = __ctrCreateRequire(import.meta.url);";

rmSync('dist', { recursive: true, force: true });
await Promise.all([
  build({ ...common, entryPoints: { 'ctr-remote': 'src/cli/launch.ts' }, outfile: 'dist/ctr-remote.mjs', format: 'esm', banner: { js: esmRequire } }),
  build({
    ...common,
    entryPoints: { 'ctr-remote': 'src/cli/cli-main.ts' },
    outfile: 'dist/ctr-remote.cjs',
    format: 'cjs',
    // no comments and no indentation: the bundle's source stays in the heap of every process (it is where V8
    // compiles a function from when it first runs), 2.0 MB instead of 2.9; names are kept for stack traces
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    // the sources are ES modules: what they ask of import.meta, answered for a CommonJS file
    define: { 'import.meta.url': '__ctrImportMetaUrl', 'import.meta.dirname': '__dirname' },
    // line 1 stamps this build: its code cache is used with this bundle only (host/cached-bundle.ts)
    banner: { js: `/* ctr-remote build ${randomBytes(8).toString('hex')} */ const __ctrImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  }),
  build({
    ...common,
    entryPoints: Object.fromEntries(workers('src').map((p) => [basename(p, '.ts'), p])),
    outdir: 'dist',
    outExtension: { '.js': '.mjs' },
    splitting: true,
    format: 'esm',
    banner: { js: esmRequire },
  }),
]);

// ASCII only (esbuild escapes the rest; comments are gone): the entry reads it as latin1, one byte a character.
if (readFileSync('dist/ctr-remote.cjs').some((b) => b > 0x7f)) throw new Error('build: dist/ctr-remote.cjs is not ASCII');

// The training run: the code cache holds what `--help` compiled (the command tree and the modules every
// command loads). Node's own flags only: V8 refuses a cache made under other flags.
const cache = join('dist', 'ctr-remote.cjs.cache');
const env = { ...process.env, CTR_REMOTE_BUILD_CODE_CACHE: cache };
delete env.NODE_OPTIONS;
execFileSync(process.execPath, [join('dist', 'ctr-remote.mjs'), '--help'], { env, stdio: 'ignore' });
if (!existsSync(cache)) throw new Error(`build: the training run wrote no ${cache}`);
