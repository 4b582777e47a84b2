// WebAssembly in this process stays in V8's baseline tier (Liftoff) and is never compiled by TurboFan. The
// only WebAssembly we run is undici's HTTP parser (llhttp), whose one big state-machine function V8 compiled
// with TurboFan at the first registry request of every process: 120 ms of a background thread and 29-42 MB
// of compiler memory (V8's own trace), which made the fuse manager's start peak at 54-57 MiB anonymous
// against 21-22 MiB without it, and competed for the CPU with the cold start it was part of. Liftoff's code
// parses as fast here (3,000 small requests on loopback: 0.82-0.95 s and 1.19-1.27 s of CPU, against
// 0.88-0.99 s and 1.41-1.46 s; 400 MB of bodies alike): llhttp hands a body over in runs, not byte by byte,
// so the parser runs per response and per read, where its compile time is never paid back
// (docs/DECISIONS.md, "Memory"). V8 reads the flag when it compiles a module: it is set before the first
// request, and holds for every thread of the process.
import { setFlagsFromString } from 'node:v8';

/** The V8 flag that keeps WebAssembly in the baseline tier. */
export const BASELINE_WASM_FLAG = '--liftoff-only';

/** Keep this process's WebAssembly (undici's parser) out of the optimizing compiler; call before the first request. */
export function keepWasmInBaselineTier(): void {
  setFlagsFromString(BASELINE_WASM_FLAG);
}
