// `ctr-remote images check [-q] [--platform P] [REF...]`: whether every blob of each image is in the store and
// matches its digest (columns as the reference: REF TYPE DIGEST STATUS SIZE UNPACKED); exit 1 naming each
// missing or corrupt blob when any image is broken.
import { Command } from 'commander';
import { digestMismatch, notFound } from '../../errors.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { addPlatformFlag } from '../platform-flags.js';
import { addSnapshotterFlag } from '../snapshotter-flag.js';
import { renderTable } from '../table.js';

/** The check command. */
export function checkCommand(ctx: CliContext): Command {
  const cmd = new Command('check')
    .description('verify that every blob of the images is in the store and matches its digest (all images when none is named)')
    .argument('[ref...]', 'images to check');
  addPlatformFlag(cmd, "platform of a multi-platform image to check (default: this host's)");
  addSnapshotterFlag(cmd, 'accepted for scripts; UNPACKED is the same for both');
  cmd.option('-q, --quiet', 'print only the names of the images that are ready (complete and unpacked, or lazy)').option('--json', 'print the checks as JSON');
  return cmd.action((refs: string[], flags, self: Command) =>
    ctx.run(self, 'check', refs.join(' '), async () => {
      const { checkImages } = await ctx.load(() => import('../../image/copy/check-images.js'));
      const checks = await checkImages(await ctx.context(self), refs, { ...(flags.platform !== undefined ? { platform: flags.platform } : {}), signal: ctx.signal });
      if (flags.json) ctx.printJson(checks);
      else if (flags.quiet) checks.filter((c) => c.status === 'lazy' || (c.status === 'complete' && c.unpacked)).forEach((c) => printLine(ctx.io, c.name));
      else {
        const rows = checks.map((c) => [c.name, c.mediaType, c.digest, `${c.status} (${c.present}/${c.total})`, `${humanSize(c.presentSize)}/${humanSize(c.totalSize)}`, String(c.unpacked)]);
        printLine(ctx.io, renderTable(['REF', 'TYPE', 'DIGEST', 'STATUS', 'SIZE', 'UNPACKED'], rows));
      }
      const broken = checks.filter((c) => c.problems.length > 0);
      if (broken.length === 0) return;
      if (!flags.json) for (const c of broken) for (const p of c.problems) printErr(ctx.io, `${c.name}: blob ${p.digest} ${p.problem === 'missing' ? 'is missing' : `is corrupt: ${p.problem}`}`);
      const first = broken[0]!;
      const make = first.status === 'corrupt' ? digestMismatch : notFound;
      throw make(`${broken.length} of ${checks.length} images broken, first ${first.name}: blob ${first.problems[0]!.digest} ${first.status === 'corrupt' ? 'is corrupt' : 'is missing'}`);
    }),
  );
}
