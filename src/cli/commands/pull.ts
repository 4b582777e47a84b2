// `ctr-remote image pull [flags] REF`: full pull from a registry into the local store. The same command is
// `content fetch REF` (with --metadata-only): a pull here never unpacks, which is all that tells the two apart
// in containerd.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { addLabelFlag } from '../label-flags.js';
import { intArg } from '../number-flags.js';
import { addPlatformFlags, platformOptions } from '../platform-flags.js';
import { progressView } from '../progress.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';
import { addSnapshotterFlag } from '../snapshotter-flag.js';

/** The pull command (`name` 'fetch': content fetch). */
export function pullCommand(ctx: CliContext, name: 'pull' | 'fetch' = 'pull'): Command {
  const fetch = name === 'fetch';
  const cmd = new Command(name)
    .description(fetch ? 'fetch every blob of an image into the local store and name it (the same as image pull)' : 'pull an image from a registry into the local store')
    .argument('<ref>', 'image reference, e.g. 127.0.0.1:5000/app:1');
  addRegistryFlags(cmd);
  addPlatformFlags(cmd);
  addLabelFlag(cmd);
  cmd.option('--all-metadata', 'with a multi-platform image: the manifests and configs of every platform, the layers of the one selected; the index is named');
  if (fetch) cmd.option('--metadata-only', 'manifests and configs only, no layers (the image is incomplete until pulled)');
  else {
    cmd.option('--print-chainid', "print the chain ID of the image's layers (the key of its top layer snapshot)");
    addSnapshotterFlag(cmd, 'accepted for scripts; a pull stores blobs only and `run --snapshotter` chooses how layers are provided');
  }
  cmd.option('--max-concurrent-downloads <n>', 'layers downloaded at once (1-64)', intArg([1, 64]), 3).option('--json', 'print the result as JSON');
  return cmd.action((ref: string, flags, self: Command) =>
    ctx.run(self, name, ref, async () => {
      const view = await progressView(ctx.io, { json: flags.json, title: `${fetch ? 'fetching' : 'pulling'} ${ref}` });
      try {
        const { pullImage } = await ctx.load(() => import('../../image/copy/pull-image.js'));
        const result = await pullImage(await ctx.context(self), ref, {
          registry: await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal),
          ...platformOptions(flags),
          ...(flags.allMetadata ? { allMetadata: true } : {}),
          ...(flags.metadataOnly ? { metadataOnly: true } : {}),
          ...(flags.label !== undefined ? { labels: flags.label } : {}),
          concurrency: flags.maxConcurrentDownloads,
          onProgress: (p) => view.onProgress(p),
          onWarning: (m) => printErr(ctx.io, `ctr-remote: warning: ${m}`),
          signal: ctx.signal,
        });
        view.finish();
        if (flags.json) {
          ctx.printJson({ name: result.name, digest: result.descriptor.digest, mediaType: result.descriptor.mediaType, size: result.contentSize, ...(result.chainId ? { chainId: result.chainId } : {}) });
        } else printLine(ctx.io, `${fetch ? 'fetched' : 'pulled'} ${result.name} ${result.descriptor.digest} (${humanSize(result.contentSize)})`);
        if (flags.printChainid && !flags.json) printLine(ctx.io, `image chain ID: ${result.chainId ?? '(none: the image has no manifest for this platform)'}`);
      } finally {
        view.finish();
      }
    }),
  );
}
