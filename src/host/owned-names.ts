// Files and directories named after the process that made them: `<prefix><pid>.<start time>-<random>`.
// A later command tells a dead writer's leftovers (remove them) from a live writer's (leave them alone)
// by the owner in the name alone, without ages or guesses (see process-owner.ts).
import { randomBytes } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { diskUsage } from './disk-usage.js';
import { isOwnerAlive, selfOwner } from './process-owner.js';

/** A fresh name owned by this process: `<prefix><owner>-<random hex>`. */
export function ownedName(prefix: string): string {
  return `${prefix}${selfOwner()}-${randomBytes(6).toString('hex')}`;
}

/** The owner part of a name made by ownedName with `prefix`, or undefined when the name is not one. */
export function nameOwner(name: string, prefix: string): string | undefined {
  if (!name.startsWith(prefix)) return undefined;
  return /^(\d+\.\d+)-/.exec(name.slice(prefix.length))?.[1];
}

/** One leftover found (and, unless dry-run, removed). */
export interface Leftover {
  path: string;
  /** Bytes of regular files it held. */
  bytes: number;
}

/** Options of removeDeadOwned. */
export interface RemoveDeadOptions {
  /** Only report what would be removed (default false). */
  dryRun?: boolean;
  signal?: AbortSignal;
}

/**
 * Remove the entries of `dir` named by ownedName with one of `prefixes` whose owner is no longer running;
 * returns what was removed with its size. Entries of live owners and other names are left alone; a
 * missing `dir` is nothing to do. Removal errors (another user's file) skip that entry.
 */
export async function removeDeadOwned(dir: string, prefixes: readonly string[], options: RemoveDeadOptions = {}): Promise<Leftover[]> {
  const out: Leftover[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    options.signal?.throwIfAborted();
    const owner = prefixes.map((p) => nameOwner(name, p)).find((o) => o !== undefined);
    if (owner === undefined || isOwnerAlive(owner)) continue;
    const path = join(dir, name);
    const bytes = await diskUsage(path);
    if (!options.dryRun) {
      try {
        await rm(path, { recursive: true, force: true });
      } catch {
        continue;
      }
    }
    out.push({ path, bytes });
  }
  return out;
}
