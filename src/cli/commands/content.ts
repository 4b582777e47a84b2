// `ctr-remote content ls | get DIGEST... | fetch REF | rm DIGEST...`: the blobs of the local store (an OCI
// image layout), as the reference's `ctr content`. `fetch` is `image pull` (a pull here never unpacks,
// which is all that tells containerd's two apart); `rm` refuses blobs an image uses unless --force.
import { Command } from 'commander';
import { notFound } from '../../errors.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { renderTable } from '../table.js';
import { pullCommand } from './pull.js';

/** The content command group. */
export function contentCommand(ctx: CliContext): Command {
  const group = new Command('content').description('manage the blobs of the local store');
  group.addCommand(lsCommand(ctx));
  group.addCommand(getCommand(ctx));
  group.addCommand(pullCommand(ctx, 'fetch'));
  group.addCommand(rmCommand(ctx));
  return group;
}

function lsCommand(ctx: CliContext): Command {
  return new Command('ls')
    .alias('list')
    .description('list the blobs of the store: digest, size, age, the images that use it')
    .option('-q, --quiet', 'print only the digests')
    .option('--json', 'print the blobs as JSON')
    .action((flags: { quiet?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'content ls', '', async () => {
        const { listContent } = await ctx.load(() => import('../../image/content/list-content.js'));
        const blobs = await listContent(await ctx.context(self));
        if (flags.json) return ctx.printJson(blobs);
        if (flags.quiet) return blobs.forEach((b) => printLine(ctx.io, b.digest));
        const now = Date.now();
        const rows = blobs.map((b) => [b.digest, humanSize(b.size), age(now - Date.parse(b.storedAt)), b.images.join(',') || '-']);
        printLine(ctx.io, renderTable(['DIGEST', 'SIZE', 'AGE', 'IMAGES'], rows));
      }),
    );
}

function getCommand(ctx: CliContext): Command {
  return new Command('get')
    .description('write blobs to stdout, each verified against its digest before its first byte is written')
    .argument('<digest...>', 'blob digests (sha256:...)')
    .action((digests: string[], _flags: unknown, self: Command) =>
      ctx.run(self, 'content get', digests.join(' '), async () => {
        const { getContent } = await ctx.load(() => import('../../image/content/get-content.js'));
        for (const digest of digests) await getContent(await ctx.context(self), digest, ctx.io.stdout, { signal: ctx.signal });
      }),
    );
}

function rmCommand(ctx: CliContext): Command {
  return new Command('rm')
    .aliases(['remove', 'delete', 'del'])
    .description('delete blobs from the store (refused for blobs an image uses, unless --force)')
    .argument('<digest...>', 'blob digests (sha256:...)')
    .option('-f, --force', 'delete blobs that images use too (they become incomplete; `images check` shows them)')
    .option('--json', 'print the result as JSON')
    .action((digests: string[], flags: { force?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'content rm', digests.join(' '), async () => {
        const { removeContent } = await ctx.load(() => import('../../image/content/remove-content.js'));
        const result = await removeContent(await ctx.context(self), digests, { force: flags.force === true, signal: ctx.signal });
        if (flags.json) ctx.printJson(result);
        else {
          result.removed.forEach((d) => printLine(ctx.io, d));
          for (const [d, names] of Object.entries(result.broken)) printErr(ctx.io, `ctr-remote: warning: ${names.join(', ')} now lack ${d}`);
        }
        for (const d of result.missing) ctx.fail(self, { op: 'content rm', subject: d }, notFound('blob not in the store'));
      }),
    );
}

/** A duration in the largest whole unit, as `ctr content ls` shows ages ("3 minutes", "2 days"). */
function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  for (const [unit, secs] of [['day', 86_400], ['hour', 3_600], ['minute', 60]] as const) {
    const n = Math.floor(s / secs);
    if (n >= 1) return `${n} ${unit}${n > 1 ? 's' : ''}`;
  }
  return `${s} second${s === 1 ? '' : 's'}`;
}
