// `--label K=V` (repeatable: pull, rpull, content fetch) and the `K=V` arguments of `images label`: labels
// stored with the image's name in the store (image/copy/image-labels.ts). Parsed while commander parses, so
// a malformed one is a usage error (exit 2).
import { InvalidArgumentError, Option, type Command } from 'commander';

/** One `K=V` (`K=` gives the empty value, which `images label` takes as "remove K"). */
export function parseLabel(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`Expected KEY=VALUE, got ${JSON.stringify(text)}`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** Add `--label K=V` (repeatable, collected into a record) to `cmd`. */
export function addLabelFlag(cmd: Command): Command {
  return cmd.addOption(
    new Option('--label <key=value>', 'label stored with the image (repeatable)').argParser((text: string, prev: Record<string, string> | undefined) => {
      const [k, v] = parseLabel(text);
      return { ...prev, [k]: v };
    }),
  );
}
