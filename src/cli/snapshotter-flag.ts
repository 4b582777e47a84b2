// `--snapshotter NAME` on pull, rpull and image mount, as the reference's: which snapshotter the image is
// prepared for. Here there is no daemon to prepare it in: the value is checked (overlayfs or stargz; empty
// means the default) and each command says what it does with it. `$CONTAINERD_SNAPSHOTTER` is not read.
import { InvalidArgumentError, Option, type Command } from 'commander';

/** The snapshotters this tool has. */
export const SNAPSHOTTERS = ['overlayfs', 'stargz'] as const;
export type SnapshotterName = (typeof SNAPSHOTTERS)[number];

/** Add `--snapshotter NAME` with the command's own description of what it does. */
export function addSnapshotterFlag(cmd: Command, description: string): Command {
  return cmd.addOption(
    new Option('--snapshotter <name>', `${description} (${SNAPSHOTTERS.join(' or ')})`).argParser((v: string) => {
      if (v !== '' && !(SNAPSHOTTERS as readonly string[]).includes(v)) throw new InvalidArgumentError(`Expected ${SNAPSHOTTERS.join(' or ')}`);
      return v;
    }),
  );
}
