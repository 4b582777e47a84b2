// V8 flags that this project changes in a running process, given back once they have acted. Node compiles
// its own modules (node:zlib, node:child_process, node:http, ...) from a code cache built into its binary,
// and V8 accepts that cache only while the hash of its flags is the one the cache was made with. One flag
// changed, on node's command line or by v8.setFlagsFromString, and every built-in loaded afterwards is
// compiled from source (NODE_DEBUG_NATIVE=CODE_CACHE prints "Code cache of zlib ... is rejected"): a CLI
// process spent 40-55 ms loading built-ins that take 15-20 with the cache. A flag set back to its default
// gives the hash back, so a flag here is set only for as long as it is read, or as late as it can be
// (host/wasm-tier.ts) (docs/DECISIONS.md, "Build").
import { setFlagsFromString } from 'node:v8';
import { semiSpaceOptionGiven } from './young-generation.js';

/** Run `fn` with the V8 flags `set`, then set `restore` (the same flags at their defaults), whatever fn did. */
export function withV8Flags<T>(set: string, restore: string, fn: () => T): T {
  setFlagsFromString(set);
  try {
    return fn();
  } finally {
    setFlagsFromString(restore);
  }
}

/**
 * Give back the default of the flags that only shaped this process's heap at start-up (the semi-space cap
 * of host/young-generation.ts, from node's command line or NODE_OPTIONS): the heap keeps the size it was
 * given, and the built-ins loaded from now on are compiled from node's code cache again.
 */
export function releaseHeapSetupFlags(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env['NODE_OPTIONS'] ?? ''): boolean {
  if (!semiSpaceOptionGiven(execArgv, nodeOptions)) return false;
  setFlagsFromString('--max-semi-space-size=0'); // 0: V8's default (sized from the heap limit)
  return true;
}
