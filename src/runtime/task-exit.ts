// The exit status of a container's last run, kept in its directory (`exit.json`) by whoever waited for it
// (a detached container's supervisor), so that `tasks ls` and `containers ls` can report it after the fact.
// Its absence for a stopped container means the status is unknown (the supervisor was killed, the host
// rebooted).
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../host/atomic-file.js';
import type { ContainerPaths } from './container-paths.js';

/** How a run ended. */
export interface TaskExit {
  /** The container's exit code (128+N when killed by signal N). */
  exitCode: number;
  /** ISO time. */
  exitedAt: string;
}

/** Record the exit of the container's run. */
export async function writeTaskExit(paths: ContainerPaths, exitCode: number, now = new Date()): Promise<void> {
  await writeFileAtomic(paths.exit, JSON.stringify({ exitCode, exitedAt: now.toISOString() } satisfies TaskExit), { mode: 0o600 });
}

/** The recorded exit, or undefined when none is (or it is unreadable). */
export async function readTaskExit(paths: ContainerPaths): Promise<TaskExit | undefined> {
  try {
    const v = JSON.parse(await readFile(paths.exit, 'utf8')) as Partial<TaskExit>;
    return typeof v.exitCode === 'number' && typeof v.exitedAt === 'string' ? { exitCode: v.exitCode, exitedAt: v.exitedAt } : undefined;
  } catch {
    return undefined;
  }
}

/** Forget the last exit (a new run starts, or `tasks rm`). */
export async function clearTaskExit(paths: ContainerPaths): Promise<void> {
  await rm(paths.exit, { force: true });
}
