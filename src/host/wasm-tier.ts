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
// How: every `new WebAssembly.Module` of the process (undici compiles its parser so, once, at its first
// connection) is compiled whole, at once, by Liftoff without tier-up checks, under V8's `--liftoff-only`
// and `--no-wasm-lazy-compilation`; the flags are set for that synchronous compile only and given back
// their defaults right after (host/v8-flags.ts: a flag left set makes V8 refuse node's code cache for
// every built-in loaded later). Code compiled so never tiers up, whatever the flags are afterwards.
import { withV8Flags } from './v8-flags.js';

/** The V8 flags a module is compiled under, and their defaults, set again right after. */
export const BASELINE_WASM_FLAGS = { set: '--liftoff-only --no-wasm-lazy-compilation', restore: '--no-liftoff-only --wasm-dynamic-tiering --wasm-tier-up --wasm-lazy-compilation' } as const;

let installed = false;

/** Keep this process's WebAssembly (undici's parser) out of the optimizing compiler; call before the first request. */
export function keepWasmInBaselineTier(): void {
  if (installed) return;
  installed = true;
  const wasm = (globalThis as unknown as { WebAssembly: { Module: new (...args: unknown[]) => object } }).WebAssembly;
  const { set, restore } = BASELINE_WASM_FLAGS;
  wasm.Module = new Proxy(wasm.Module, {
    construct: (target, args, newTarget) => withV8Flags(set, restore, () => Reflect.construct(target, args, newTarget) as object),
  });
}
