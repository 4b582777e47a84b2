// `ctr-remote image rpull [flags] REF`: lazy pull (manifest, config and eStargz TOCs only); prints which
// layers are lazy and which were pulled in full, and why.
import { Command } from 'commander';
import type { LazyLayerRecord } from '../../image/lazy/lazy-record.js';
import type { RpullResult } from '../../image/lazy/rpull.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { layerLine } from '../layer-line.js';
import { addPlatformFlag } from '../platform-flags.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';
import { addLabelFlag } from '../label-flags.js';
import { addSnapshotterFlag } from '../snapshotter-flag.js';
import { usageError } from '../usage-error.js';
import { whyNoKeeper } from '../../image/lazy/keeper-policy.js';
import { RootLayout } from '../../store/root-layout.js';

/** The rpull command. */
export function rpullCommand(ctx: CliContext): Command {
  const cmd = new Command('rpull').description('lazily pull an image: fetch only manifest, config and eStargz TOCs').argument('<ref>', 'image reference');
  addRegistryFlags(cmd);
  addPlatformFlag(cmd, 'platform to pull from a multi-platform image; a single-platform image must be it (default: this host\'s)');
  addLabelFlag(cmd);
  addSnapshotterFlag(cmd, 'only stargz (the default), which serves the lazy layers; use image pull for overlayfs');
  cmd
    .option('--skip-content-verify', 'accept layers whose TOC does not match the toc.digest annotation')
    .option('--print-chainid', "print the chain ID of the image's layers (the key of its top layer snapshot)")
    .option('--json', 'print the result as JSON');
  return cmd.action((ref: string, flags, self: Command) =>
    ctx.run(self, 'rpull', ref, async () => {
      if (flags.snapshotter === 'overlayfs') throw usageError('rpull is a lazy pull, which only the stargz snapshotter serves; use image pull for overlayfs');
      const registry = await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal);
      // the keeper starts first, before anything else of rpull is loaded: it takes ~0.2 s to answer, about
      // what the manifest and the TOCs take
      const keeper = whyNoKeeper({ registry, skipContentVerify: flags.skipContentVerify }, ctx.io.env) === undefined
        ? new (await ctx.load(() => import('../../image/lazy/keeper-handoff.js'))).KeeperHandoff(new RootLayout(ctx.globals(self).root))
        : undefined;
      let result: RpullResult;
      try {
        const context = await ctx.context(self);
        const { rpullImage } = await ctx.load(() => import('../../image/lazy/rpull.js'));
        result = await rpullImage(context, ref, {
          registry,
          ...(keeper ? { keeper } : {}),
          ...(keeper ? { onWarning: (line: string) => printErr(ctx.io, `ctr-remote: warning: ${line}`) } : {}),
          ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
          ...(flags.skipContentVerify ? { skipContentVerify: true } : {}),
          ...(flags.label !== undefined ? { labels: flags.label } : {}),
          ...(flags.json ? {} : { onLayer: (l: LazyLayerRecord, i: number) => printLine(ctx.io, layerLine(l, i)) }),
          signal: ctx.signal,
        });
      } finally {
        await keeper?.close(); // one started for nothing (no lazy layer, a failed rpull) ends
      }
      const lazy = result.layers.filter((l) => l.mode === 'lazy').length;
      if (flags.json) return ctx.printJson({ name: result.name, digest: result.descriptor.digest, layers: result.layers, ...(result.chainId ? { chainId: result.chainId } : {}), ...(result.keeper ? { keeper: result.keeper } : {}) });
      printLine(ctx.io, `rpulled ${result.name} ${result.descriptor.digest}: ${lazy} of ${result.layers.length} layers lazy`);
      if (result.keeper) printLine(ctx.io, `the keeper (pid ${result.keeper.pid}) mounts ${result.keeper.layers} lazy layer(s) and starts their prefetch`);
      if (flags.printChainid) printLine(ctx.io, `image chain ID: ${result.chainId ?? '(none: the config has no diff_ids)'}`);
    }),
  );
}
