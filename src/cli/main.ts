// The ctr-remote executable's entry (bundled into dist/ctr-remote.mjs; bin/ctr-remote runs it as
// `node -- dist/ctr-remote.mjs ARGS...`, so process.argv holds the user's arguments exactly as typed).
// `ctr-remote --version` alone is answered here, before the command tree (commander and every command's
// flags) is loaded: scripts call it to probe the tool, and it then costs little more than starting node.
import pkg from '../../package.json' with { type: 'json' };
import { keepWasmInBaselineTier } from '../host/wasm-tier.js';
import { installFatalHandlers } from './fatal-error.js';

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  process.stdout.write(`${pkg.version}\n`);
} else {
  installFatalHandlers(process.stderr, argv.includes('--debug'));
  keepWasmInBaselineTier(); // before any registry request: see host/wasm-tier.ts
  const [{ processIo }, { runCli }] = await Promise.all([import('./cli-io.js'), import('./run-cli.js')]);
  const controller = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());
  const code = await runCli(argv, processIo(), controller.signal);
  process.exitCode = code;
  // Do not let an idle keep-alive socket or timer hold the process open after the command is done.
  setTimeout(() => process.exit(code), 200).unref();
}
