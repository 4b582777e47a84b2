// How to start this tool again as a child process (the fuse manager, a detached container's supervisor):
// the same node, its flags and the same entry script, with the child's own arguments after them.

/**
 * V8's young generation of a process that serves lazy layers, in MiB per semi-space. Node's default (16)
 * lets a serving process commit 30+ MB of young generation for 10 MB of live heap; serving allocates
 * mostly Buffers, which live outside the V8 heap, so small semi-spaces cost little time.
 */
export const SERVING_SEMI_SPACE_MIB = 2;

/**
 * The argv prefix that runs this tool as a long-lived process serving lazy layers: node, its execArgv, a
 * small young generation unless node was given one, and the entry script.
 */
export function servingArgv(): string[] {
  const own = process.execArgv.some((a) => /^--max-semi-space-size(=|$)/.test(a));
  const flags = own ? [] : [`--max-semi-space-size=${SERVING_SEMI_SPACE_MIB}`];
  return [process.execPath, ...process.execArgv, ...flags, process.argv[1] ?? ''];
}

/**
 * glibc's malloc settings of a process serving lazy layers, each unless the environment sets it. The
 * background fetch allocates and frees megabytes of buffers a second from the main thread and libuv's
 * threads; with glibc's defaults the freed memory stayed in the process (a fixed threshold keeps buffers of
 * 128 KiB and more in their own mappings, returned when freed, instead of the threshold rising to the
 * largest buffer freed; freed space at the top of a heap is returned from 128 KiB; two arenas instead of
 * one per thread). Measured on the fuse manager serving the 429 MB image to the end (bench/service.ts):
 * highest anonymous RSS 61 MiB instead of 75–80, 44 instead of 61–77 once idle.
 */
export const SERVING_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '131072',
  MALLOC_TRIM_THRESHOLD_: '131072',
};

/** The environment for a process serving lazy layers: this one's, with SERVING_MALLOC_ENV where unset. */
export function servingEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...SERVING_MALLOC_ENV, ...env };
}
