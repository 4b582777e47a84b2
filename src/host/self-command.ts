// How to start this tool again as a child process (the fuse manager, a detached container's supervisor):
// the same node, its flags and the same entry script, with the child's own arguments after them.

/** The argv prefix that runs this tool again: node, its execArgv and the entry script. */
export function selfArgv(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1] ?? ''];
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
