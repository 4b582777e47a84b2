// The young generation of the fuse manager. V8 grows each of a process's two semi-spaces up to 16 MiB when
// it allocates fast (the manager does during a layer's background fetch: a reply, a buffer view and a
// promise per chunk) and keeps them committed: up to 32 MiB of its RSS for objects that live microseconds.
// At 1 MiB a scavenge runs more often and costs less each time. Serving the 429 MB image until local, the
// manager's share fell by 5-9 MiB steady and the two processes' peak from 170-172 to 154-163 MiB summed
// (docs/DECISIONS.md, "Memory"). The cap is node's command-line option: V8 reads it when it sets up the
// heap only, so a running process cannot take it (v8.setFlagsFromString changes nothing then).

/** MiB per semi-space of the fuse manager. */
export const MANAGER_SEMI_SPACE_MIB = 1;

const SEMI_SPACE_OPTION = /^--max[-_]semi[-_]space[-_]size\b/;

/** Whether node's options (`nodeArgs`, and `nodeOptions` as in NODE_OPTIONS) set a semi-space size. */
export function semiSpaceOptionGiven(nodeArgs: readonly string[], nodeOptions: string): boolean {
  return [...nodeArgs, ...nodeOptions.split(/\s+/)].some((a) => SEMI_SPACE_OPTION.test(a));
}

/**
 * `argv` (a node executable, its options, a script and its arguments) with `--max-semi-space-size=<mib>`
 * added after the executable, unless node's options in `argv` or `nodeOptions` (NODE_OPTIONS) set a size
 * already: that one is the operator's.
 */
export function withSemiSpaceCap(argv: readonly string[], nodeOptions: string, mib = MANAGER_SEMI_SPACE_MIB): string[] {
  if (semiSpaceOptionGiven(argv.slice(1), nodeOptions) || argv.length === 0) return [...argv];
  return [argv[0]!, `--max-semi-space-size=${mib}`, ...argv.slice(1)];
}
