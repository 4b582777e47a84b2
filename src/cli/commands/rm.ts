// `ctr-remote image rm REF...`: remove names, then delete the blobs no name needs any more.
import { Command } from 'commander';
import { notFound } from '../../errors.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';

/** The rm command. */
export function rmCommand(ctx: CliContext): Command {
  return new Command('rm')
    .aliases(['remove', 'delete', 'del'])
    .description('remove images from the local store')
    .argument('<ref...>', 'images to remove')
    .option('--json', 'print the result as JSON')
    .action((refs: string[], flags: { json?: boolean }, self: Command) =>
      ctx.run(self, 'rm', refs.join(' '), async () => {
        const { removeImages } = await ctx.load(() => import('../../image/copy/remove-images.js'));
        const result = await removeImages(await ctx.context(self), refs, { signal: ctx.signal });
        if (flags.json) ctx.printJson(result);
        else {
          result.removed.forEach((name) => printLine(ctx.io, name));
          if (result.gc.deferredBy) printErr(ctx.io, `blob cleanup deferred: pid ${result.gc.deferredBy.join(', ')} is writing to the store`);
          else if (result.gc.removed.length) printErr(ctx.io, `freed ${humanSize(result.gc.freedBytes)} (${result.gc.removed.length} blobs)`);
          if (result.snapshots.removed.length) printErr(ctx.io, `freed ${humanSize(result.snapshots.bytes)} (${result.snapshots.removed.length} unpacked snapshots)`);
          const k = result.keeper;
          if (k.released.length) printErr(ctx.io, `the keeper let go of ${k.released.length} lazy layer(s)${k.ended ? ' and ended' : ''}`);
          if (k.error) printErr(ctx.io, `ctr-remote: warning: the keeper could not let go of the unused lazy layers: ${k.error}`);
        }
        for (const name of result.missing) ctx.fail(self, { op: 'rm', subject: name }, notFound('no such image'));
      }),
    );
}
