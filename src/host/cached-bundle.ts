// A CommonJS bundle run through V8's code cache. Node 20 keeps no compile cache for a program's own modules:
// every start parsed and compiled the CLI's ESM chunks again (~45 ms of compiling and ~130 ms of loading
// them before `run` did anything, in a profile). One CommonJS bundle compiled by vm.Script can take V8's
// serialized code instead (`cachedData`), made by the build from a training run: the functions that run
// compiled then come back compiled, the rest is compiled lazily as always. V8 refuses a cache made by
// another V8 or under other V8 flags (host/v8-flags.ts), but of the source it checks only the length: so the
// cache file starts with the bundle's first line, which the build makes a stamp of that build, and a cache
// of another build is not offered to V8 at all. Without a cache the bundle is compiled from its source,
// which is what happened on every start before.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';
import { writeFileAtomicSync } from './atomic-file.js';

/** Options of loadCachedBundle. */
export interface CachedBundleOptions {
  /** Write the code cache of what this process compiled to this file when it exits (the build's training run). Default: none. */
  writeCacheTo?: string | undefined;
}

/** What loadCachedBundle ran. */
export interface LoadedBundle<T> {
  /** The bundle's module.exports. */
  exports: T;
  /**
   * What became of the code cache: none found, made for another build of the bundle (not used), used, or
   * refused by V8. The bundle was compiled from its source unless 'accepted'.
   */
  codeCache: 'absent' | 'stale' | 'accepted' | 'rejected';
}

/** The code cache file of `bundle`. */
export function codeCacheFile(bundle: string): string {
  return `${bundle}.cache`;
}

/** Run the CommonJS bundle `bundle` (a file path) with its code cache when there is one; its exports. */
export function loadCachedBundle<T>(bundle: string, options: CachedBundleOptions = {}): LoadedBundle<T> {
  const source = readFileSync(bundle, 'latin1'); // ASCII (the build checks): one byte per character in V8's heap
  const stamp = Buffer.from(`${source.slice(0, Math.max(0, source.indexOf('\n')))}\n`);
  const file = readCache(codeCacheFile(bundle));
  const fresh = file !== undefined && file.subarray(0, stamp.length).equals(stamp);
  const cachedData = fresh ? file.subarray(stamp.length) : undefined;
  // CommonJS's wrapper, on the bundle's first line so that line numbers in stack traces stay the file's
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: bundle, ...(cachedData ? { cachedData } : {}) });
  const codeCache = file === undefined ? 'absent' : !fresh ? 'stale' : script.cachedDataRejected === true ? 'rejected' : 'accepted';
  const module = { exports: {} as T };
  (script.runInThisContext() as (e: T, r: NodeJS.Require, m: { exports: T }, f: string, d: string) => void)(module.exports, createRequire(bundle), module, bundle, dirname(bundle));
  const out = options.writeCacheTo;
  if (out) process.once('exit', () => writeFileAtomicSync(out, Buffer.concat([stamp, script.createCachedData()]))); // whole or not at all
  return { exports: module.exports, codeCache };
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
