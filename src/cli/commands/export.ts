// `ctr-remote image export FILE.tar REF...`: write local images as an OCI image-layout archive.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';

/** The export command. */
export function exportCommand(ctx: CliContext): Command {
  return new Command('export')
    .description('export local images to an OCI image-layout archive')
    .argument('<file>', 'archive to write (e.g. images.tar)')
    .argument('<ref...>', 'images to export')
    .option('--json', 'print the result as JSON')
    .action((file: string, refs: string[], flags: { json?: boolean }, self: Command) =>
      ctx.run(self, 'export', file, async () => {
        const { exportImages } = await ctx.load(() => import('../../image/copy/export-archive.js'));
        const result = await exportImages(await ctx.context(self), file, refs, { signal: ctx.signal });
        if (flags.json) ctx.printJson(result);
        else printLine(ctx.io, `exported ${result.images.map((i) => i.name).join(', ')} to ${file} (${humanSize(result.size)})`);
      }),
    );
}
