// The ctr-remote executable's entry (bundled into dist/ctr-remote.mjs; bin/ctr-remote runs it as
// `node -- dist/ctr-remote.mjs ARGS...`, so process.argv holds the user's arguments exactly as typed).
import { processIo } from './cli-io.js';
import { runCli } from './run-cli.js';

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => controller.abort());
const code = await runCli(process.argv.slice(2), processIo(), controller.signal);
process.exitCode = code;
// Do not let an idle keep-alive socket or timer hold the process open after the command is done.
setTimeout(() => process.exit(code), 200).unref();
