// `ctr-remote image pull [flags] REF`: full pull from a registry into the local store.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { intArg } from '../number-flags.js';
import { addPlatformFlags, platformOptions } from '../platform-flags.js';
import { progressView } from '../progress.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';

/** The pull command. */
export function pullCommand(ctx: CliContext): Command {
  const cmd = new Command('pull').description('pull an image from a registry into the local store').argument('<ref>', 'image reference, e.g. 127.0.0.1:5000/app:1');
  addRegistryFlags(cmd);
  addPlatformFlags(cmd);
  cmd.option('--max-concurrent-downloads <n>', 'layers downloaded at once (1-64)', intArg([1, 64]), 3).option('--json', 'print the result as JSON');
  return cmd.action((ref: string, flags, self: Command) =>
    ctx.run(self, 'pull', ref, async () => {
      const view = await progressView(ctx.io, { json: flags.json, title: `pulling ${ref}` });
      try {
        const { pullImage } = await ctx.load(() => import('../../image/copy/pull-image.js'));
        const result = await pullImage(await ctx.context(self), ref, {
          registry: await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal),
          ...platformOptions(flags),
          concurrency: flags.maxConcurrentDownloads,
          onProgress: (p) => view.onProgress(p),
          onWarning: (m) => printErr(ctx.io, `ctr-remote: warning: ${m}`),
          signal: ctx.signal,
        });
        view.finish();
        if (flags.json) ctx.printJson({ name: result.name, digest: result.descriptor.digest, mediaType: result.descriptor.mediaType, size: result.contentSize });
        else printLine(ctx.io, `pulled ${result.name} ${result.descriptor.digest} (${humanSize(result.contentSize)})`);
      } finally {
        view.finish();
      }
    }),
  );
}
