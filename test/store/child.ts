// Spawning layout-child.ts in its own node process (tsx) for cross-process store tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./layout-child.ts', import.meta.url));

/** Start the child with `args`; resolves once it printed "ready" (or immediately for commands that exit). */
export function startChild(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
}

/** Wait for the child to print "ready". */
export async function ready(child: ChildProcess): Promise<void> {
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    if (out.includes('ready')) return;
  }
  throw new Error(`child exited before ready: ${out}`);
}

/** Wait for the child to exit; rejects on a non-zero exit. */
export async function exited(child: ChildProcess): Promise<void> {
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  if (code !== 0 && signal !== 'SIGKILL') throw new Error(`child failed: code ${code} signal ${signal}`);
}

/** SIGKILL the child and wait until it is gone. */
export async function kill(child: ChildProcess): Promise<void> {
  const gone = once(child, 'exit');
  child.kill('SIGKILL');
  await gone;
}
