// `ctr-remote snapshots ls | info KEY | mounts DIR KEY | usage [KEY...] | rm KEY...`: the snapshots this tool
// holds under its root (unpacked layers, lazy layers, containers), in containerd's terms (image/snapshots/).
// There is no snapshotter daemon behind them: `--snapshotter` is accepted as the reference's and ignored.
import { Command, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { renderTable } from '../table.js';

/** The snapshots command group. */
export function snapshotsCommand(ctx: CliContext): Command {
  const group = new Command('snapshots')
    .alias('snapshot')
    .description("the snapshots under the root: unpacked and lazy layers (named by chain ID), containers' writable layers")
    .addOption(new Option('--snapshotter <name>', 'accepted for compatibility with containerd scripts; ignored (one root, one set of snapshots)').hideHelp());
  for (const make of [lsCommand, infoCommand, mountsCommand, usageCommand, rmCommand]) group.addCommand(make(ctx));
  return group;
}

function lsCommand(ctx: CliContext): Command {
  return new Command('ls')
    .alias('list')
    .description('list the snapshots: KEY PARENT KIND SOURCE (unpacked, lazy or container)')
    .option('--json', 'print the snapshots as JSON')
    .action((flags: { json?: boolean }, self: Command) =>
      ctx.run(self, 'snapshots ls', '', async () => {
        const { listRootSnapshots } = await ctx.load(() => import('../../image/snapshots/root-snapshots.js'));
        const snaps = await listRootSnapshots(await ctx.context(self), { signal: ctx.signal });
        if (flags.json) return ctx.printJson(snaps);
        const rows = snaps.map((s) => [s.name, s.parent ?? '', kindName(s.kind), s.source]);
        printLine(ctx.io, renderTable(['KEY', 'PARENT', 'KIND', 'SOURCE'], rows));
      }),
    );
}

function infoCommand(ctx: CliContext): Command {
  return new Command('info')
    .description('print a snapshot as JSON (as containerd: Kind, Name, Parent, Labels, Created, Updated; and where it lives)')
    .argument('<key>', 'snapshot key')
    .action((key: string, _flags: unknown, self: Command) =>
      ctx.run(self, 'snapshots info', key, async () => {
        const { snapshotInfo } = await ctx.load(() => import('../../image/snapshots/root-snapshots.js'));
        const s = await snapshotInfo(await ctx.context(self), key, { signal: ctx.signal });
        ctx.printJson({
          Kind: kindName(s.kind), Name: s.name, ...(s.parent ? { Parent: s.parent } : {}), Labels: s.labels, Created: s.created, Updated: s.updated,
          Source: s.source, ...(s.layer ? { Layer: s.layer } : {}), ...(s.dir ? { Dir: s.dir } : {}), Images: s.images, Users: s.users,
        });
      }),
    );
}

function mountsCommand(ctx: CliContext): Command {
  return new Command('mounts')
    .aliases(['m', 'mount'])
    .description('print the mount command that mounts a snapshot at DIR (a committed layer read-only, with its parents)')
    .argument('<dir>', 'mount point')
    .argument('<key>', 'snapshot key')
    .option('--json', 'print the mounts as JSON')
    .action((dir: string, key: string, flags: { json?: boolean }, self: Command) =>
      ctx.run(self, 'snapshots mounts', key, async () => {
        const { snapshotMounts } = await ctx.load(() => import('../../image/snapshots/snapshot-mounts.js'));
        const mounts = await snapshotMounts(await ctx.context(self), key, { signal: ctx.signal });
        if (flags.json) return ctx.printJson(mounts);
        for (const m of mounts) printLine(ctx.io, `mount -t ${m.type} ${m.source} ${dir} -o ${m.options.join(',')}`);
      }),
    );
}

function usageCommand(ctx: CliContext): Command {
  return new Command('usage')
    .description("disk use of each snapshot's own tree (all when no KEY is given)")
    .argument('[key...]', 'snapshot keys')
    .option('-b', 'sizes in bytes')
    .option('--json', 'print the usage as JSON')
    .action((keys: string[], flags: { b?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'snapshots usage', keys.join(' '), async () => {
        const { snapshotUsage } = await ctx.load(() => import('../../image/snapshots/snapshot-usage.js'));
        const rows = await snapshotUsage(await ctx.context(self), keys, { signal: ctx.signal });
        if (flags.json) return ctx.printJson(rows);
        printLine(ctx.io, renderTable(['KEY', 'SIZE', 'INODES'], rows.map((r) => [r.name, flags.b ? String(r.size) : humanSize(r.size), String(r.inodes)])));
      }),
    );
}

function rmCommand(ctx: CliContext): Command {
  return new Command('rm')
    .aliases(['delete', 'del', 'remove'])
    .description('remove snapshots (refused for one with children, one in use, a lazy layer)')
    .argument('<key...>', 'snapshot keys, removed in this order')
    .action((keys: string[], _flags: unknown, self: Command) =>
      ctx.run(self, 'snapshots rm', keys.join(' '), async () => {
        const { removeRootSnapshots } = await ctx.load(() => import('../../image/snapshots/remove-snapshots.js'));
        await removeRootSnapshots(await ctx.context(self), keys, { onRemoved: (k) => printLine(ctx.io, k), signal: ctx.signal });
      }),
    );
}

/** containerd's spelling of a kind (Active, View, Committed). */
function kindName(kind: string): string {
  return kind.charAt(0).toUpperCase() + kind.slice(1);
}
