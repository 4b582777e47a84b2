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

/** A command of the tree: the names it answers to (its name, then its aliases), how to make it, and whether help leaves it out. */
type Entry = readonly [names: readonly string[], make: (ctx: CliContext) => Command, hidden?: boolean];

/** The image group's commands, in the order help lists them. */
const IMAGE_COMMANDS: readonly Entry[] = [
  [['pull'], pullCommand], [['push'], pushCommand], [['ls', 'list'], lsCommand], [['rm', 'remove', 'delete', 'del'], rmCommand], [['tag'], tagCommand],
  [['export'], exportCommand], [['import'], importCommand], [['convert'], convertCommand], [['get-toc-digest'], getTocDigestCommand],
  [['optimize'], optimizeCommand], [['prune'], pruneCommand], [['rpull'], rpullCommand], [['mount'], mountCommand],
  [['unmount', 'umount'], unmountCommand], [['status'], statusCommand], [['check'], checkCommand], [['label'], labelCommand],
];

/** The image group's names. */
const IMAGE_NAMES = ['image', 'images', 'i'] as const;

/** The program's commands other than the image group and completion, in the order help lists them. */
const TOP_COMMANDS: readonly Entry[] = [
  [['run'], runCommand], [['containers', 'c', 'container'], containersCommand], [['tasks', 't', 'task'], tasksCommand],
  [['supervise'], superviseCommand, true], [['snapshotter'], snapshotterCommand], [['content'], contentCommand],
  [['snapshots', 'snapshot'], snapshotsCommand], [['version'], versionCommand],
];

/** The program's options that take a value (how `commandWords` skips them). */
const VALUE_OPTIONS = new Set(['--root', '-n', '--namespace', '-a', '--address']);

/**
 * Build the command tree; usage errors and help throw CommanderError (see runCli). Given the command line,
 * only the command it names is built (with its group), when it names one plainly: every process is a new
 * command, and making all ~60 commands with their options cost 6-8 ms of each start (the CLI's cold start
 * is three processes). Anything else (no command, help, an unknown name, completion) builds the whole tree,
 * which suggestions, help and completion scripts need.
 */
export function buildProgram(ctx: CliContext, argv?: readonly string[]): Command {
  const [first, second] = argv ? commandWords(argv) : [];
  const top = TOP_COMMANDS.find(([names]) => first !== undefined && names.includes(first));
  const sub = IMAGE_COMMANDS.find(([names]) => second !== undefined && names.includes(second));
  const isImage = first !== undefined && (IMAGE_NAMES as readonly string[]).includes(first);
  const program = new Command('ctr-remote')
    .enablePositionalOptions()
    .description('standalone eStargz image tool: pull, push, convert and lazily run OCI images')
    .version(pkg.version, '-v, --version', 'print the version')
    .option('--root <dir>', 'state directory (default: /var/lib/ctr-remote as root, else $XDG_DATA_HOME/ctr-remote)')
    .option('--debug', 'print stack traces and registry requests')
    .addOption(new Option('-n, --namespace <ns>', 'accepted for compatibility with containerd scripts; ignored').hideHelp())
    .addOption(new Option('-a, --address <path>', 'accepted for compatibility with containerd scripts; ignored').hideHelp());
  if (top) addTop(program, top, ctx);
  else if (isImage && sub) program.addCommand(imageGroup(ctx, [sub]));
  else {
    program.addCommand(imageGroup(ctx, IMAGE_COMMANDS));
    for (const entry of TOP_COMMANDS) addTop(program, entry, ctx);
    program.addCommand(completionCommand(ctx, () => program));
  }
  configureAll(program, ctx);
  for (const c of program.commands) addGlobalOptions(c, program);
  return program;
}

function imageGroup(ctx: CliContext, commands: readonly Entry[]): Command {
  const [name, ...aliases] = IMAGE_NAMES;
  const image = new Command(name).aliases(aliases).description('manage images');
  for (const [, make] of commands) image.addCommand(make(ctx));
  return image;
}

function addTop(program: Command, [, make, hidden]: Entry, ctx: CliContext): void {
  program.addCommand(make(ctx), hidden ? { hidden: true } : {});
}

/** The first two words of a command line that are neither options nor their values (the command's path, as far as it is plain). */
function commandWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (VALUE_OPTIONS.has(a)) i++;
      continue;
    }
    words.push(a);
  }
  return words;
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
