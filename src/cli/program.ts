// The commander tree of ctr-remote, mirroring the reference's command names and flags:
//   ctr-remote [--root DIR] [--debug] image {pull,push,ls,rm,tag,export,import}
//   ctr-remote completion bash|zsh|fish
//   ctr-remote run [-d] REF ID, containers {ls,info,rm}, tasks {ls,kill,start,exec,ps,attach,rm}
//   ctr-remote snapshotter serve   (the containerd snapshotter service)
//   ctr-remote content {ls,get,fetch,rm} | snapshots {ls,info,mounts,usage,rm} | version
import { Command, Option } from 'commander';
import pkg from '../../package.json' with { type: 'json' };
import type { CliContext } from './cli-context.js';
import { completionCommand } from './commands/completion.js';
import { errorLine } from './error-line.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { lsCommand } from './commands/ls.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { rmCommand } from './commands/rm.js';
import { tagCommand } from './commands/tag.js';
import { convertCommand } from './commands/convert.js';
import { getTocDigestCommand } from './commands/get-toc-digest.js';
import { mountCommand } from './commands/mount.js';
import { rpullCommand } from './commands/rpull.js';
import { statusCommand } from './commands/status.js';
import { unmountCommand } from './commands/unmount.js';
import { runCommand } from './commands/run.js';
import { optimizeCommand } from './commands/optimize.js';
import { pruneCommand } from './commands/prune.js';
import { snapshotterCommand } from './commands/snapshotter.js';
import { containersCommand } from './commands/containers.js';
import { superviseCommand, tasksCommand } from './commands/tasks.js';
import { contentCommand } from './commands/content.js';
import { checkCommand } from './commands/check.js';
import { labelCommand } from './commands/label.js';
import { versionCommand } from './commands/version.js';
import { snapshotsCommand } from './commands/snapshots.js';

/** Build the whole command tree; usage errors and help throw CommanderError (see runCli). */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('ctr-remote')
    .enablePositionalOptions()
    .description('standalone eStargz image tool: pull, push, convert and lazily run OCI images')
    .version(pkg.version, '-v, --version', 'print the version')
    .option('--root <dir>', 'state directory (default: /var/lib/ctr-remote as root, else $XDG_DATA_HOME/ctr-remote)')
    .option('--debug', 'print stack traces and registry requests')
    .addOption(new Option('-n, --namespace <ns>', 'accepted for compatibility with containerd scripts; ignored').hideHelp())
    .addOption(new Option('-a, --address <path>', 'accepted for compatibility with containerd scripts; ignored').hideHelp());
  const image = new Command('image').alias('images').alias('i').description('manage images');
  for (const make of [pullCommand, pushCommand, lsCommand, rmCommand, tagCommand, exportCommand, importCommand, convertCommand, getTocDigestCommand, optimizeCommand, pruneCommand, rpullCommand, mountCommand, unmountCommand, statusCommand, checkCommand, labelCommand]) image.addCommand(make(ctx));
  program.addCommand(image);
  program.addCommand(runCommand(ctx));
  program.addCommand(containersCommand(ctx));
  program.addCommand(tasksCommand(ctx));
  program.addCommand(superviseCommand(ctx), { hidden: true });
  program.addCommand(snapshotterCommand(ctx));
  program.addCommand(contentCommand(ctx));
  program.addCommand(snapshotsCommand(ctx));
  program.addCommand(versionCommand(ctx));
  program.addCommand(completionCommand(ctx, () => program));
  configureAll(program, ctx);
  for (const sub of program.commands) addGlobalOptions(sub, program);
  return program;
}

/**
 * `run` stops parsing at its first positional argument (the container's `CMD ARGS...` keep their
 * options, as with `ctr run`), which commander allows only when the program takes its own options
 * positionally (before the subcommand). So that `image pull --debug x` keeps working, every subcommand
 * also takes the program's options, hidden from its help; CliContext.globals merges them.
 */
function addGlobalOptions(cmd: Command, program: Command): void {
  const taken = new Set(cmd.options.flatMap((o) => [o.short, o.long]).filter((f) => f !== undefined));
  for (const o of program.options) {
    if (o.long === '--version' || [o.short, o.long].some((f) => f !== undefined && taken.has(f))) continue;
    cmd.addOption(new Option(o.flags, o.description).hideHelp());
  }
  if (cmd.commands.length > 0) cmd.enablePositionalOptions(); // a group leaves options after the subcommand to it
  for (const sub of cmd.commands) addGlobalOptions(sub, program);
}

/** Apply output and exit handling to every command (addCommand does not inherit settings). */
function configureAll(cmd: Command, ctx: CliContext): void {
  cmd
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
      outputError: (s, write) => {
        const message = s.replace(/^error: /, '').trim().replace(/\.$/, '');
        const see = ` (see '${commandPath(cmd)} --help')`;
        write(`ctr-remote: ${errorLine(message)}${see}\n`);
        ctx.failUsage(cmd, `${errorLine(message, Infinity)}${see}`);
      },
    });
  for (const sub of cmd.commands) configureAll(sub, ctx);
}

function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}
