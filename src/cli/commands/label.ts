// `ctr-remote images label [-r] REF [K=V...]`: set (K=V), remove (K=) and print an image's labels, stored with
// its name in the store (image/copy/image-labels.ts).
import { Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { parseLabel } from '../label-flags.js';

/** The label command. */
export function labelCommand(ctx: CliContext): Command {
  return new Command('label')
    .description('set (K=V) and remove (K=) labels of an image; prints its labels after')
    .argument('<ref>', 'image in the store')
    .argument('[labels...]', 'KEY=VALUE to set, KEY= to remove', (text: string, prev: Record<string, string> | undefined) => {
      const [k, v] = parseLabel(text);
      if (k === '') throw new InvalidArgumentError('empty key');
      return { ...prev, [k]: v };
    })
    .option('-r, --replace-all', 'drop the labels not given')
    .option('--json', 'print the labels as JSON')
    // commander gives [] when no KEY=VALUE follows
    .action((ref: string, labels: Record<string, string> | [], flags: { replaceAll?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'label', ref, async () => {
        const { labelImage } = await ctx.load(() => import('../../image/copy/image-labels.js'));
        const after = await labelImage(await ctx.context(self), ref, Array.isArray(labels) ? {} : labels, { replaceAll: flags.replaceAll === true, signal: ctx.signal });
        if (flags.json) return ctx.printJson(after);
        for (const [k, v] of Object.entries(after)) printLine(ctx.io, `${k}=${v}`);
      }),
    );
}
