// Marks when the CLI hands the container to runc, without touching the product: a `runc` shim first in
// PATH logs the wall-clock time and arguments of every call, then execs the real runc. The shim costs one
// `date` fork (~1 ms) per runc call. The `run` call splits the CLI's `run` into create (store, mounts,
// prefetch wait, bundle) and run (runc start, the workload, teardown).
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A runc shim directory and its log. */
export interface RuncProbe {
  /** Prepend to PATH. */
  binDir: string;
  /** Environment to add to the CLI's (PATH and the log location). */
  env: NodeJS.ProcessEnv;
  /** Forget earlier calls. */
  reset(): void;
  /** Wall-clock ms of the first `runc ... run ...` call since reset, if any. */
  runStartedAt(): number | undefined;
}

/** Create the shim in `dir` in front of the runc found in PATH. */
export function createRuncProbe(dir: string): RuncProbe {
  const real = execFileSync('sh', ['-c', 'command -v runc'], { encoding: 'utf8' }).trim();
  if (!real) throw new Error('runc is not in PATH (apt-get install runc)');
  const binDir = join(dir, 'bin');
  const log = join(dir, 'runc-calls.log');
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, 'runc'), `#!/bin/sh\necho "$(date +%s%N) $*" >> "${log}"\nexec ${real} "$@"\n`);
  chmodSync(join(binDir, 'runc'), 0o755);
  return {
    binDir,
    env: { PATH: `${binDir}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` },
    reset: () => rmSync(log, { force: true }),
    runStartedAt() {
      if (!existsSync(log)) return undefined;
      for (const line of readFileSync(log, 'utf8').split('\n')) {
        const [ns, ...args] = line.split(' ');
        if (ns && args.includes('run')) return Number(BigInt(ns) / 1_000_000n);
      }
      return undefined;
    },
  };
}
