// `ctr-remote tasks ls | kill | start | exec | ps | attach | rm` (aliases t, task): the running process of
// each container, as `ctr tasks`. `supervise ID` (hidden) is the supervisor of a detached container,
// started by `run -d` and `tasks start` (image/detached-run.ts), never by hand.
import { Command } from 'commander';
import { failedPrecondition } from '../../errors.js';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { logUriArg } from '../log-uri.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';
import { renderTable } from '../table.js';
import { usageError } from '../usage-error.js';

/** The tasks command group. */
export function tasksCommand(ctx: CliContext): Command {
  const group = new Command('tasks').alias('t').alias('task').description('manage the processes of containers').enablePositionalOptions();
  group.addCommand(
    new Command('ls')
      .alias('list')
      .description('list tasks: every container with its process and status')
      .option('-q, --quiet', 'print only the task IDs')
      .option('--json', 'print the tasks as JSON')
      .action((flags: { quiet?: boolean; json?: boolean }, self: Command) =>
        ctx.run(self, 'tasks ls', '', async () => {
          const { listTasks } = await ctx.load(() => import('../../image/tasks.js'));
          const list = await listTasks(await ctx.context(self), { signal: ctx.signal });
          if (flags.json) return ctx.printJson(list.map((c) => ({ id: c.id, ...c.task })));
          if (flags.quiet) return list.forEach((c) => printLine(ctx.io, c.id));
          const exit = (c: (typeof list)[number]): string => (c.task.status !== 'stopped' ? '-' : c.task.exit ? String(c.task.exit.exitCode) : 'unknown');
          printLine(ctx.io, renderTable(['TASK', 'PID', 'STATUS', 'EXIT'], list.map((c) => [c.id, String(c.task.pid ?? 0), c.task.status.toUpperCase(), exit(c)])));
        }),
      ),
  );
  group.addCommand(
    new Command('kill')
      .description('signal a task (default SIGTERM)')
      .argument('<id>', 'container ID')
      .option('-s, --signal <signal>', 'signal name or number', 'SIGTERM')
      .option('-a, --all', 'signal every process of the container')
      .option('--exec-id <id>', 'not supported: execs run in the foreground of their own command, signal that one')
      .action((id: string, flags: { signal: string; all?: boolean; execId?: string }, self: Command) =>
        ctx.run(self, 'tasks kill', id, async () => {
          if (flags.execId !== undefined) throw usageError('--exec-id: an exec runs in the foreground of its tasks exec command; signal that command');
          const { killTask } = await ctx.load(() => import('../../image/tasks.js'));
          await killTask(await ctx.context(self), id, flags.signal, { all: flags.all === true, signal: ctx.signal });
        }),
      ),
  );
  const start = new Command('start')
    .description('start a stopped detached container again (its writes kept), attached to its output unless -d')
    .argument('<id>', 'container ID')
    .option('-d, --detach', 'return once it runs')
    .option('--log-uri <uri>', 'not supported: the container keeps the log it was created with', logUriArg);
  addRegistryFlags(start);
  group.addCommand(
    start.action((id: string, flags, self: Command) =>
      ctx.run(self, 'tasks start', id, async () => {
        if (flags.logUri !== undefined) throw usageError('--log-uri: a container keeps the log given to run -d');
        const { startTask } = await ctx.load(() => import('../../image/tasks.js'));
        const registry = await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal);
        const exit = await startTask(await ctx.context(self), id, { registry, signal: ctx.signal, ...(flags.detach ? {} : { attachTo: ctx.io.stdout }) });
        if (!flags.detach) reportExit(ctx, id, exit);
      }),
    ),
  );
  group.addCommand(
    new Command('exec')
      .description('run another process in a running container, in the foreground (its exit code is ours)')
      .argument('<id>', 'container ID')
      .argument('<cmd...>', 'command and arguments')
      .passThroughOptions()
      .requiredOption('--exec-id <id>', 'name of this process (as ctr requires)')
      .option('-t, --tty', 'allocate a terminal (stdin must be a tty)')
      .option('-i, --interactive', 'attach stdin')
      .option('--cwd <dir>', 'working directory (default: the container process\'s)')
      .option('--user <uid[:gid]>', 'user (default: the container process\'s)')
      .option('--env <K=V>', 'add an environment variable (repeatable)', (v: string, p: string[] = []) => [...p, v])
      .action((id: string, cmd: string[], flags: { execId: string; tty?: boolean; interactive?: boolean; cwd?: string; user?: string; env?: string[] }, self: Command) =>
        ctx.run(self, 'tasks exec', id, async () => {
          if (flags.tty && ctx.io.stdin?.isTTY !== true) throw usageError('-t needs a terminal: stdin is not a tty');
          const { execInTask } = await ctx.load(() => import('../../image/tasks.js'));
          ctx.exitCode = await execInTask(await ctx.context(self), id, cmd, {
            execId: flags.execId,
            tty: flags.tty === true,
            stdin: flags.interactive === true,
            ...(flags.cwd ? { cwd: flags.cwd } : {}),
            ...(flags.user ? { user: flags.user } : {}),
            ...(flags.env ? { env: flags.env } : {}),
          });
        }),
      ),
  );
  group.addCommand(
    new Command('ps')
      .description('list the host pids of a task\'s processes')
      .argument('<id>', 'container ID')
      .option('--json', 'print the pids as JSON')
      .action((id: string, flags: { json?: boolean }, self: Command) =>
        ctx.run(self, 'tasks ps', id, async () => {
          const { taskPids } = await ctx.load(() => import('../../image/tasks.js'));
          const pids = await taskPids(await ctx.context(self), id, { signal: ctx.signal });
          if (flags.json) return ctx.printJson(pids);
          printLine(ctx.io, renderTable(['PID'], pids.map((p) => [String(p)])));
        }),
      ),
  );
  group.addCommand(
    new Command('attach')
      .description('copy a detached task\'s output from now until it exits (Ctrl-C detaches; the task goes on)')
      .argument('<id>', 'container ID')
      .action((id: string, _flags: unknown, self: Command) => ctx.run(self, 'tasks attach', id, () => attach(ctx, self, id))),
  );
  group.addCommand(
    new Command('rm')
      .aliases(['delete', 'del', 'remove'])
      .description('delete stopped tasks (their exit status); the containers stay')
      .argument('<id...>', 'container IDs')
      .option('-f, --force', 'kill a running task first')
      .action((ids: string[], flags: { force?: boolean }, self: Command) =>
        ctx.run(self, 'tasks rm', ids.join(' '), async () => {
          const { deleteTask } = await ctx.load(() => import('../../image/tasks.js'));
          const c = await ctx.context(self);
          for (const id of ids) {
            const exit = await deleteTask(c, id, { force: flags.force === true, signal: ctx.signal });
            printLine(ctx.io, `${id}: exit ${exit ? exit.exitCode : 'unknown'}`);
          }
        }),
      ),
  );
  return group;
}

/** Follow the task's output; our exit code becomes its (1 with a note when unknown; 130 when detached by Ctrl-C). */
async function attach(ctx: CliContext, self: Command, id: string): Promise<void> {
  const { attachTask } = await ctx.load(() => import('../../image/tasks.js'));
  reportExit(ctx, id, await attachTask(await ctx.context(self), id, ctx.io.stdout, { signal: ctx.signal }));
}

function reportExit(ctx: CliContext, id: string, exit: { exitCode: number } | undefined): void {
  if (ctx.signal.aborted) return;
  if (exit) ctx.exitCode = exit.exitCode;
  else throw failedPrecondition(`task ${id} stopped; its exit status is unknown`);
}

/** `supervise ID` (hidden): a detached container's supervisor; the request comes over the IPC channel. */
export function superviseCommand(ctx: CliContext): Command {
  return new Command('supervise')
    .description('the supervisor of a detached container (started by run -d; not for direct use)')
    .argument('<id>', 'container ID (for ps; the request names it)')
    .action((id: string, _flags: unknown, self: Command) =>
      ctx.run(self, 'supervise', id, async () => {
        process.on('SIGHUP', () => undefined);
        process.on('error', () => undefined); // IPC channel errors once the starter is gone
        const { superviseContainer } = await ctx.load(() => import('../../image/detached-run.js'));
        ctx.exitCode = await superviseContainer(await ctx.context(self), {
          request: () => {
            if (!process.send) return Promise.reject(usageError('supervise is started by run -d and tasks start, with an IPC channel'));
            return new Promise((resolve) => process.once('message', resolve as (m: unknown) => void));
          },
          // the command that started us may be gone (closed terminal, kill -9): then there is no one to tell
          answer: (a) => {
            if (!process.connected) return;
            process.send?.(a, undefined, undefined, () => {
              if (process.connected) process.disconnect();
            });
          },
        }, ctx.signal);
      }),
    );
}
