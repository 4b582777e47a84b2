// How to start this tool again as a child process (the fuse manager, a detached container's supervisor):
// the same node, its flags and the same entry script, with the child's own arguments after them.

/** The argv prefix that runs this tool: node, its execArgv and the entry script. */
export function selfArgv(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? ''];
}
