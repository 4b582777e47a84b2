// `ctr-remote image import FILE.tar`: load an OCI image-layout archive into the local store.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';

/** The import command. */
export function importCommand(ctx: CliContext): Command {
  return new Command('import')
    .description('import images from an OCI image-layout archive')
    .argument('<file>', 'archive to read')
    .option('--base-name <name>', 'name for images the archive names only by tag (NAME:TAG)')
    .option('--json', 'print the result as JSON')
    .action((file: string, flags: { baseName?: string; json?: boolean }, self: Command) =>
      ctx.run(self, 'import', file, async () => {
        const { importImages } = await ctx.load(() => import('../../image/copy/import-archive.js'));
        const result = await importImages(await ctx.context(self), file, { ...(flags.baseName ? { baseName: flags.baseName } : {}), signal: ctx.signal });
        if (flags.json) ctx.printJson(result);
        else result.images.forEach((i) => printLine(ctx.io, `${i.name} ${i.digest}`));
      }),
    );
}
