// `ctr-remote image push [flags] REF [LOCAL-REF]`: push the store image LOCAL-REF (default REF) to REF.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { intArg } from '../number-flags.js';
import { addPlatformFlags, platformOptions } from '../platform-flags.js';
import { progressView } from '../progress.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';

/** The push command. */
export function pushCommand(ctx: CliContext): Command {
  const cmd = new Command('push')
    .description('push a local image to a registry (or an oci: layout)')
    .argument('<ref>', 'destination reference, or oci:DIR[:TAG]')
    .argument('[local-ref]', 'local image to push (default: ref)');
  addRegistryFlags(cmd);
  addPlatformFlags(cmd);
  cmd.option('--max-concurrent-uploaded-layers <n>', 'layers uploaded at once (1-64)', intArg([1, 64]), 3).option('--json', 'print the result as JSON');
  return cmd.action((ref: string, localRef: string | undefined, flags, self: Command) =>
    ctx.run(self, 'push', ref, async () => {
      const view = await progressView(ctx.io, { json: flags.json, title: `pushing ${ref}` });
      try {
        const { pushImage } = await ctx.load(() => import('../../image/copy/push-image.js'));
        const result = await pushImage(await ctx.context(self), ref, localRef, {
          registry: await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal),
          ...platformOptions(flags),
          concurrency: flags.maxConcurrentUploadedLayers,
          onProgress: (p) => view.onProgress(p),
          signal: ctx.signal,
        });
        view.finish();
        if (flags.json) ctx.printJson({ name: result.target, digest: result.descriptor.digest, mediaType: result.descriptor.mediaType, size: result.contentSize });
        else printLine(ctx.io, `pushed ${result.target} ${result.descriptor.digest} (${humanSize(result.contentSize)})`);
      } finally {
        view.finish();
      }
    }),
  );
}
