// `ctr-remote completion bash|zsh|fish`: print the completion script (also kept in completions/).
import { Argument, Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { completionScript, SHELLS, type Shell } from '../completion.js';

/** The completion command; `root` is the finished program (walked when the command runs). */
export function completionCommand(ctx: CliContext, root: () => Command): Command {
  return new Command('completion')
    .description(`print a shell completion script (${SHELLS.join(', ')})`)
    .addArgument(new Argument('<shell>', 'shell to complete for').choices(SHELLS))
    .action((shell: Shell, _flags, self: Command) =>
      ctx.run(self, 'completion', shell, async () => {
        ctx.io.stdout.write(completionScript(root(), shell));
      }),
    );
}
