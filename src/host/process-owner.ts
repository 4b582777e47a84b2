// Identity of a process that survives pid reuse: "<pid>.<start time>", the start time being field 22 of
// /proc/<pid>/stat (clock ticks since boot). A pid alone is not enough: after a crash the pid may belong
// to an unrelated process by the time the next command looks. The one implementation of this check;
// locks, leases, ingest files, temp dirs, snapshot holds, container and mount records all use it.
import { readFileSync } from 'node:fs';

/**
 * Start time of process `pid` (clock ticks since boot), or undefined when there is no such process. A zombie
 * (exited, not yet reaped by its parent) counts as gone: it holds nothing and will never act again, and a
 * check that saw it alive a moment before it was reaped took a dead owner's container for a live one.
 */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // field 3, the state
    return fields[19];
  } catch {
    return undefined;
  }
}

let self: string | undefined;

/** The owner string of the current process ("<pid>.<start time>"). */
export function selfOwner(): string {
  self ??= ownerOf(process.pid) ?? `${process.pid}.0`;
  return self;
}

/** The owner string of a running process, or undefined when it does not exist. */
export function ownerOf(pid: number): string | undefined {
  const start = processStartTime(pid);
  return start === undefined ? undefined : `${pid}.${start}`;
}

/** Split an owner string into pid and start time; undefined when it is not one. */
export function parseOwner(owner: string): { pid: number; startTime: string } | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(owner);
  if (!m?.[1] || !m[2]) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? { pid, startTime: m[2] } : undefined;
}

/**
 * True while the process named by `owner` (from selfOwner) runs: same pid and same start time. Only where
 * /proc cannot be read at all (start time "0", not Linux) does it fall back to asking whether the pid exists.
 */
export function isOwnerAlive(owner: string): boolean {
  const parsed = parseOwner(owner);
  if (!parsed) return false;
  const now = processStartTime(parsed.pid);
  if (now !== undefined) return parsed.startTime === '0' || now === parsed.startTime;
  if (procReadable()) return false;
  try {
    process.kill(parsed.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let proc: boolean | undefined;
function procReadable(): boolean {
  proc ??= processStartTime(process.pid) !== undefined;
  return proc;
}
