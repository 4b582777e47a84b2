// `ctr-remote version`: the reference prints its client's version and its daemon's (containerd); this tool has
// no daemon, so the Server part says so instead of failing to dial one.
import { Command } from 'commander';
import pkg from '../../../package.json' with { type: 'json' };
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';

/** The version command. */
export function versionCommand(ctx: CliContext): Command {
  return new Command('version')
    .description('print the client version (there is no server: this tool needs no daemon)')
    .option('--json', 'print the versions as JSON')
    .action((flags: { json?: boolean }) => {
      if (flags.json) return ctx.printJson({ client: { version: pkg.version, node: process.version }, server: null });
      printLine(ctx.io, ['Client:', `  Version:  ${pkg.version}`, `  Node version: ${process.version}`, '', 'Server:', '  none (ctr-remote works without a daemon)'].join('\n'));
    });
}
