// `ctr-remote image unmount DIR`: take down an image mount made by `image mount` (its serving process
// unmounts; a dead one's leftovers are cleaned here).
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';

/** The unmount command. */
export function unmountCommand(ctx: CliContext): Command {
  return new Command('unmount').alias('umount').description('unmount an image mounted with image mount').argument('<dir>', 'mount point')
    .action((dir: string, _flags, self: Command) =>
      ctx.run(self, 'unmount', dir, async () => {
        const { unmountImage } = await ctx.load(() => import('../../image/lazy/mount.js'));
        const record = await unmountImage(await ctx.context(self), dir);
        printLine(ctx.io, `unmounted ${record.name} from ${record.dir}`);
      }),
    );
}
