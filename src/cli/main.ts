// The ctr-remote executable's entry when run from source (`node --import tsx src/cli/main.ts ARGS...`, as
// the tests do). The built executable's entry is src/cli/launch.ts (dist/ctr-remote.mjs); both answer the
// version probe first and then run cli-main.ts.
import { releaseHeapSetupFlags } from '../host/v8-flags.js';
import { answerVersionProbe } from './version-probe.js';

const argv = process.argv.slice(2);
if (!answerVersionProbe(argv)) {
  releaseHeapSetupFlags(); // the fuse manager's young-generation cap has shaped the heap: see host/v8-flags.ts
  await (await import('./cli-main.js')).runMain(argv);
}
