// `ctr-remote image prune [--dry-run] [--json]`: free the space no stored image needs (unreferenced blobs,
// unused snapshots, dead processes' leftovers) and say how much. It never removes a named image (unlike
// `docker image prune`, there are no dangling images here: every manifest in the store has a name).
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';

/** The prune command. */
export function pruneCommand(ctx: CliContext): Command {
  return new Command('prune')
    .description('remove unreferenced blobs, snapshots no image or container uses, and leftovers of dead processes')
    .option('--dry-run', 'only report what would be removed')
    .option('--json', 'print the result as JSON')
    .action((flags: { dryRun?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'prune', '', async () => {
        const { pruneRoot } = await ctx.load(() => import('../../image/copy/prune.js'));
        const r = await pruneRoot(await ctx.context(self), { dryRun: flags.dryRun === true, signal: ctx.signal });
        if (flags.json) return ctx.printJson(r);
        const verb = r.dryRun ? 'would remove' : 'removed';
        const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
        printLine(ctx.io, `${verb} ${count(r.blobs.removed.length, 'unreferenced blob')} (${humanSize(r.blobs.bytes)})`);
        printLine(ctx.io, `${verb} ${count(r.snapshots.removed.length, 'unused snapshot')} (${humanSize(r.snapshots.bytes)})`);
        printLine(ctx.io, `${verb} ${count(r.leftovers.removed.length, 'leftover')} of dead processes (${humanSize(r.leftovers.bytes)})`);
        for (const k of r.snapshots.inUse) printLine(ctx.io, `kept unreferenced snapshot ${k.digest}: in use by ${k.usedBy.join(', ')}`);
        if (r.keeper.released.length) printLine(ctx.io, `the keeper let go of ${count(r.keeper.released.length, 'lazy layer')} no image needs${r.keeper.ended ? ' and ended' : ''}`);
        if (r.keeper.error) printErr(ctx.io, `ctr-remote: warning: the keeper could not let go of the unused lazy layers: ${r.keeper.error}`);
        if (r.blobs.deferredBy) printErr(ctx.io, `ctr-remote: blob removal deferred: pid ${r.blobs.deferredBy.join(', ')} is writing to the store`);
        printLine(ctx.io, `${r.dryRun ? 'would free' : 'freed'} ${humanSize(r.freedBytes)}`);
      }),
    );
}
