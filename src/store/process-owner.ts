// Identity of a process that survives pid reuse: "<pid>.<start time in clock ticks>" from /proc.
// Used to tell whether the holder of a lock, lease or ingest file is still running.
import { readFileSync } from 'node:fs';

function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime); the command name (field 2) may contain spaces, so count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

let self: string | undefined;

/** The owner string of the current process. */
export function selfOwner(): string {
  self ??= `${process.pid}.${startTime(process.pid) ?? '0'}`;
  return self;
}

/** True while the process named by `owner` (from selfOwner) is still running. */
export function isOwnerAlive(owner: string): boolean {
  const [pidText, start] = owner.split('.');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = startTime(pid);
  if (now !== undefined) return start === '0' || now === start;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
