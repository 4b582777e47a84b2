// `ctr-remote image tag SRC DST`: another name for a local image (or a copy to/from an oci: layout).
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';

/** The tag command. */
export function tagCommand(ctx: CliContext): Command {
  return new Command('tag')
    .description('give a local image another name (SRC and DST may be oci:DIR[:TAG])')
    .argument('<src>', 'existing image')
    .argument('<dst>', 'new name')
    .option('--json', 'print the result as JSON')
    .action((src: string, dst: string, flags: { json?: boolean }, self: Command) =>
      ctx.run(self, 'tag', src, async () => {
        const { tagImage } = await ctx.load(() => import('../../image/copy/tag-image.js'));
        const result = await tagImage(await ctx.context(self), src, dst, { signal: ctx.signal });
        if (flags.json) ctx.printJson({ name: result.target, digest: result.descriptor.digest });
        else printLine(ctx.io, result.target);
      }),
    );
}
