// What the ctr-remote executable does once it is past the version probe and has given back its heap-setup
// flags (both entries do that first): the process-wide setup, then the command line. Reached from src/cli/main.ts when run from source, and from dist/ctr-remote.mjs
// (src/cli/launch.ts), which loads it as the CommonJS bundle dist/ctr-remote.cjs.
import { keepWasmInBaselineTier } from '../host/wasm-tier.js';
import { installFatalHandlers } from './fatal-error.js';

/** Run the command line `argv` (the user's arguments) and exit with its code. */
export async function runMain(argv: string[]): Promise<void> {
  installFatalHandlers(process.stderr, argv.includes('--debug'));
  keepWasmInBaselineTier(); // before any registry request: see host/wasm-tier.ts
  const [{ processIo }, { runCli }] = await Promise.all([import('./cli-io.js'), import('./run-cli.js')]);
  const controller = new AbortController();
  // The first SIGINT/SIGTERM aborts the command (which then exits 130); the listener stays, so that the
  // process's other listeners (fuse/exit-unmount.ts) see that someone handles the signal and do not raise it
  // again to die of it. A second one is left to its default action: the process ends.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    const onSignal = (): void => {
      if (!controller.signal.aborted) return controller.abort();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
  const code = await runCli(argv, processIo(), controller.signal);
  process.exitCode = code;
  // Do not let an idle keep-alive socket or timer hold the process open after the command is done.
  setTimeout(() => process.exit(code), 200).unref();
}
