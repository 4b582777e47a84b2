// WebAssembly in this process stays in V8's baseline tier (Liftoff) and is never compiled by TurboFan. The
// only WebAssembly we run is undici's HTTP parser (llhttp), whose one big state-machine function V8 compiled
// with TurboFan at the first registry request of every process: 120 ms of a background thread and 29-42 MB
// of compiler memory (V8's own trace), which made the fuse manager's start peak at 54-57 MiB anonymous
// against 21-22 MiB without it, and competed for the CPU with the cold start it was part of. Liftoff's code
// parses as fast here (3,000 small requests on loopback: 0.82-0.95 s and 1.19-1.27 s of CPU, against
// 0.88-0.99 s and 1.41-1.46 s; 400 MB of bodies alike): llhttp hands a body over in runs, not byte by byte,
// so the parser runs per response and per read, where its compile time is never paid back
// (docs/DECISIONS.md, "Memory").
//
// How: the flag is set right before the process's first `new WebAssembly.Module` (undici compiles its
// parser so, once, at its first connection; a construct trap on the global catches it, then steps aside),
// and stays set: V8 reads it as it compiles each function, lazily, at its first call. Not at process start:
// a V8 flag changed makes V8 refuse node's code cache for every built-in loaded afterwards
// (host/v8-flags.ts), and most of a command's built-ins are loaded before its first request. Giving the
// flag back right after the compile was tried, with the module compiled eagerly under it: V8's compile trace
// then lost lines under load in the tests, so the claim could not be checked, and it was not kept.
import { setFlagsFromString } from 'node:v8';

/** The V8 flag that keeps WebAssembly in the baseline tier. */
export const BASELINE_WASM_FLAG = '--liftoff-only';

let installed = false;

/** Keep this process's WebAssembly (undici's parser) out of the optimizing compiler; call before the first request. */
export function keepWasmInBaselineTier(): void {
  if (installed) return;
  installed = true;
  const wasm = (globalThis as unknown as { WebAssembly: { Module: new (...args: unknown[]) => object } }).WebAssembly;
  const original = wasm.Module;
  wasm.Module = new Proxy(original, {
    construct: (target, args, newTarget) => {
      setFlagsFromString(BASELINE_WASM_FLAG);
      wasm.Module = original; // set once; later modules are compiled under it too
      return Reflect.construct(target, args, newTarget) as object;
    },
  });
}
