// `ctr-remote containers ls | info ID | rm ID...` (aliases c, container): the containers of the root, as
// `ctr containers` lists containerd's. Status comes with them (no daemon keeps a separate task list).
import { Command } from 'commander';
import type { ContainerInfo } from '../../image/containers.js';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { renderTable } from '../table.js';

/** The containers command group. */
export function containersCommand(ctx: CliContext): Command {
  const group = new Command('containers').alias('c').alias('container').description('manage containers (run -d starts them; tasks drives them)');
  group.addCommand(
    new Command('ls')
      .alias('list')
      .description('list containers')
      .option('-q, --quiet', 'print only the container IDs')
      .option('--json', 'print the containers as JSON')
      .action((flags: { quiet?: boolean; json?: boolean }, self: Command) =>
        ctx.run(self, 'containers ls', '', async () => {
          const { listContainers } = await ctx.load(() => import('../../image/containers.js'));
          const list = await listContainers(await ctx.context(self), { signal: ctx.signal });
          if (flags.json) return ctx.printJson(list);
          if (flags.quiet) return list.forEach((c) => printLine(ctx.io, c.id));
          printLine(ctx.io, renderTable(['CONTAINER', 'IMAGE', 'RUNTIME', 'STATUS'], list.map((c) => [c.id, c.image || '-', c.runtime, statusText(c)])));
        }),
      ),
  );
  group.addCommand(
    new Command('info')
      .description('print a container as JSON')
      .argument('<id>', 'container ID')
      .option('--spec', 'print only its OCI runtime spec')
      .action((id: string, flags: { spec?: boolean }, self: Command) =>
        ctx.run(self, 'containers info', id, async () => {
          const { getContainer, containerSpec } = await ctx.load(() => import('../../image/containers.js'));
          const c = await ctx.context(self);
          ctx.printJson(flags.spec ? await containerSpec(c, id) : await getContainer(c, id, { signal: ctx.signal }));
        }),
      ),
  );
  group.addCommand(
    new Command('rm')
      .aliases(['delete', 'del', 'remove'])
      .description('remove containers and their writes (a running one only with --force)')
      .argument('<id...>', 'container IDs')
      .option('-f, --force', 'kill a running container first')
      .option('--keep-snapshot', 'accepted for ctr scripts; no effect: the writes live in the container directory and go with it')
      .action((ids: string[], flags: { force?: boolean }, self: Command) =>
        ctx.run(self, 'containers rm', ids.join(' '), async () => {
          const { removeContainers } = await ctx.load(() => import('../../image/containers.js'));
          await removeContainers(await ctx.context(self), ids, { force: flags.force === true, signal: ctx.signal });
        }),
      ),
  );
  return group;
}

/** `running (pid N)`, `stopped (exit 0)`, `stopped (exit unknown)`, `created`. */
export function statusText(c: Pick<ContainerInfo, 'task'>): string {
  const t = c.task;
  if (t.status === 'stopped') return `stopped (exit ${t.exit ? t.exit.exitCode : 'unknown'})`;
  return t.pid ? `${t.status} (pid ${t.pid})` : t.status;
}
