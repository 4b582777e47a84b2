// What state a container's task is in, told from what the host holds: whether its owner (the process that
// runs it: `run` in the foreground, a detached container's supervisor) lives, runc's state, and the
// recorded exit. Pure: the callers gather the inputs (after cleaning the leftovers of dead owners, so a
// container whose supervisor was killed reads as stopped with an unknown exit, which is then the truth).
import type { RuncState } from './runc.js';
import type { TaskExit } from './task-exit.js';

/** A task's status, in containerd's words. */
export type TaskStatus = 'created' | 'running' | 'paused' | 'stopped';

/** The task of one container as reported. */
export interface TaskView {
  status: TaskStatus;
  /** Host pid of the container's init while it runs. */
  pid?: number;
  /** Stopped: how it ended; undefined when that is not known. */
  exit?: TaskExit;
}

/** The facts about one container. */
export interface TaskFacts {
  ownerAlive: boolean;
  runc?: RuncState;
  exit?: TaskExit;
}

/** The status of a container's task from the facts (see module comment). */
export function taskView(f: TaskFacts): TaskView {
  if (f.ownerAlive) {
    const s = f.runc?.status;
    if (s === 'running' || s === 'paused') return { status: s, pid: f.runc!.pid };
    if (s === 'stopped') return stopped(f.exit); // exited; its owner is taking it down
    if (!s && f.exit) return stopped(f.exit); // exited and runc's state is gone: its owner is taking it down
    return { status: 'created' }; // mounting its layers, or runc is creating it
  }
  return stopped(f.exit);
}

function stopped(exit: TaskExit | undefined): TaskView {
  return exit ? { status: 'stopped', exit } : { status: 'stopped' };
}
