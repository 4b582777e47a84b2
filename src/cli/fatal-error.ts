// The last resort for a bug that escapes every handler: an exception thrown from an event callback, or a
// rejection nobody awaited. Node would print a stack and exit 1 (or, for some failures, keep a process whose
// serving is dead). Here: one line on stderr (the stack with --debug), then exit 70 (EX_SOFTWARE). Exiting is
// what frees the mounts this process serves: the exit hooks unmount them, and the kernel fails any request
// still waiting on a FUSE connection once its server's /dev/fuse descriptor is closed, so a reader gets an
// error instead of hanging.

/** Exit code of an internal error (sysexits.h EX_SOFTWARE). */
export const INTERNAL_ERROR_EXIT = 70;

/** Install the handlers for this process; `debug` says whether to print the stack. */
export function installFatalHandlers(stderr: NodeJS.WritableStream, debug: boolean): void {
  let dying = false;
  const fatal = (e: unknown): void => {
    if (dying) return;
    dying = true;
    // The reader of our output went away (`ctr-remote image ls | head`): a normal end, not an error to report.
    if ((e as NodeJS.ErrnoException | null)?.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    const message = e instanceof Error ? e.message : String(e);
    const detail = debug && e instanceof Error && e.stack ? `\n${e.stack}` : ' (run with --debug for details)';
    stderr.write(`ctr-remote: internal error: ${message.split('\n')[0]}${detail}\n`);
    process.exit(INTERNAL_ERROR_EXIT);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
}
