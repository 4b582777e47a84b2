// `ctr-remote snapshotter serve`: the containerd snapshotter service (the reference's containerd-stargz-grpc,
// with its flags, defaults and config file), in the foreground until a signal: SIGTERM stops answering and
// leaves the lazy mounts with the fuse manager (a restart keeps running containers reading), SIGINT unmounts
// everything. `snapshotter stop [--unmount]` does the same from another shell. Logs are JSON lines on stderr.
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { intArg } from '../number-flags.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic'];
const ROOT = '/var/lib/containerd-stargz-grpc';

const logLevelOption = () =>
  new Option('--log-level <level>', 'least level logged').default('info').argParser((v: string) => {
    if (!LEVELS.includes(v.toLowerCase())) throw new InvalidArgumentError(`Expected one of ${LEVELS.join(', ')}`);
    return v;
  });

/** The snapshotter command group. */
export function snapshotterCommand(ctx: CliContext): Command {
  const group = new Command('snapshotter').description('the containerd snapshotter service (lazy pulling for containerd, nerdctl and Kubernetes)');
  group.addCommand(serveCommand(ctx));
  group.addCommand(stopCommand(ctx));
  group.addCommand(fuseManagerCommand(ctx), { hidden: true });
  return group;
}

function serveCommand(ctx: CliContext): Command {
  return new Command('serve')
    .description('serve containerd\'s snapshot API on a unix socket (foreground; SIGTERM keeps lazy mounts for a restart, SIGINT unmounts them)')
    .option('--address <path>', 'unix socket to listen on', '/run/containerd-stargz-grpc/containerd-stargz-grpc.sock')
    .option('--root <dir>', 'state directory of the service', ROOT)
    .option('--config <file>', 'TOML config file (default: /etc/containerd-stargz-grpc/config.toml, if it exists)')
    .addOption(logLevelOption())
    .option('--cache-max-bytes <n>', 'bound of the chunk cache in bytes (default: the config\'s cache_max_bytes, else min(10 GiB, half the free disk))', intArg([1, Number.MAX_SAFE_INTEGER]))
    .action((flags: { address: string; root: string; config?: string; logLevel: string; cacheMaxBytes?: number }, self: Command) =>
      ctx.run(self, 'snapshotter serve', flags.address, async () => {
        const { serveSnapshotter } = await ctx.load(() => import('../../service/serve.js'));
        let mode: 'keep' | 'teardown' = 'teardown';
        const onTerm = (): void => void (mode = 'keep');
        process.once('SIGTERM', onTerm);
        try {
          const serving = await serveSnapshotter({
            address: flags.address,
            root: flags.root,
            ...(flags.config !== undefined ? { config: flags.config } : {}),
            ...(flags.cacheMaxBytes !== undefined ? { cacheMaxBytes: flags.cacheMaxBytes } : {}),
            logLevel: flags.logLevel,
            log: ctx.io.stderr,
          });
          ctx.abortWasNormalEnd = true; // a signal is how the service ends
          if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          await serving.stop(mode);
        } finally {
          process.off('SIGTERM', onTerm);
        }
      }),
    );
}

function stopCommand(ctx: CliContext): Command {
  return new Command('stop')
    .description('stop the service of a root (its lazy mounts stay for the next start, unless --unmount)')
    .option('--root <dir>', 'state directory of the service', ROOT)
    .option('--unmount', 'unmount every lazy layer and end the fuse manager too')
    .action((flags: { root: string; unmount?: boolean }, self: Command) =>
      ctx.run(self, 'snapshotter stop', flags.root, async () => {
        const { stopSnapshotter } = await ctx.load(() => import('../../service/serve.js'));
        const r = await stopSnapshotter({ root: flags.root, unmount: flags.unmount === true });
        const parts = [r.stoppedPid !== undefined ? `stopped the service (pid ${r.stoppedPid})` : 'no service was running'];
        if (flags.unmount) parts.push(r.managerStopped ? 'unmounted its lazy layers' : 'no fuse manager was running');
        printLine(ctx.io, parts.join('; '));
      }),
    );
}

function fuseManagerCommand(ctx: CliContext): Command {
  return new Command('fuse-manager')
    .description('the process holding the service\'s FUSE sessions (started by serve)')
    .requiredOption('--settings <json>', 'the layer settings, as the service passes them')
    .addOption(logLevelOption())
    .action((flags: { settings: string; logLevel: string }, self: Command) =>
      ctx.run(self, 'snapshotter fuse-manager', '', async () => {
        const { serveFuseManager } = await ctx.load(() => import('../../service/fuse-manager.js'));
        let settings: unknown;
        try {
          settings = JSON.parse(flags.settings);
        } catch {
          throw new InvalidArgumentError('--settings is not JSON');
        }
        await serveFuseManager({ settings: settings as never, logLevel: flags.logLevel, log: ctx.io.stderr });
        ctx.abortWasNormalEnd = true;
      }),
    );
}
