// The built executable's entry, dist/ctr-remote.mjs (bin/ctr-remote runs it as `node -- dist/ctr-remote.mjs
// ARGS...`, so process.argv holds the user's arguments exactly as typed). It answers the version probe, then
// loads the rest of the tool, dist/ctr-remote.cjs, through V8's code cache that the build wrote next to it
// (host/cached-bundle.ts): a command starts without parsing and compiling the ~3 MB bundle again
// (docs/DECISIONS.md, "Process start-up").
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCachedBundle } from '../host/cached-bundle.js';
import { releaseHeapSetupFlags } from '../host/v8-flags.js';
import { answerVersionProbe } from './version-probe.js';

/** What dist/ctr-remote.cjs exports (src/cli/cli-main.ts). */
interface CliMain {
  runMain(argv: string[]): Promise<void>;
}

const argv = process.argv.slice(2);
if (!answerVersionProbe(argv)) {
  releaseHeapSetupFlags(); // before the compile: V8 checks the code cache against its flags too
  const bundle = join(dirname(fileURLToPath(import.meta.url)), 'ctr-remote.cjs');
  // the build's training run names the file to write the cache to (scripts/build.mjs)
  const { exports } = loadCachedBundle<CliMain>(bundle, { writeCacheTo: process.env['CTR_REMOTE_BUILD_CODE_CACHE'] });
  await exports.runMain(argv);
}
