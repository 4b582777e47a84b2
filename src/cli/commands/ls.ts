// `ctr-remote image ls [-q] [--json]`: the images of the local store.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { renderTable } from '../table.js';

/** The ls command. */
export function lsCommand(ctx: CliContext): Command {
  return new Command('ls')
    .alias('list')
    .description('list images in the local store')
    .option('-q, --quiet', 'print only image names')
    .option('--json', 'print the images as JSON')
    .action((flags: { quiet?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'ls', '', async () => {
        const { listImages } = await ctx.load(() => import('../../image/copy/list-images.js'));
        const images = await listImages(await ctx.context(self));
        if (flags.json) return ctx.printJson(images);
        if (flags.quiet) return images.forEach((i) => printLine(ctx.io, i.name));
        const rows = images.map((i) => [i.name, i.digest, humanSize(i.size), i.platforms.join(',') || '-', i.type]);
        printLine(ctx.io, renderTable(['NAME', 'DIGEST', 'SIZE', 'PLATFORM', 'TYPE'], rows));
      }),
    );
}
