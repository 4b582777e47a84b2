// `ctr-remote image mount [flags] REF DIR`: the image as a read-only, lazily fetched tree at DIR. Stays in
// the foreground; Ctrl-C (exit 130) or `image unmount DIR` (exit 0) unmounts. `image unmount` asks the
// serving process with SIGTERM, so once mounted, SIGTERM is the user's unmount: a normal end.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { intArg } from '../number-flags.js';
import { addPlatformFlag } from '../platform-flags.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';
import { layerLine } from '../layer-line.js';
import { addSnapshotterFlag } from '../snapshotter-flag.js';

/** The mount command. */
export function mountCommand(ctx: CliContext): Command {
  const cmd = new Command('mount').description('mount an image at DIR (read-only unless --rw), fetching its eStargz layers lazily (root; stays in the foreground)')
    .argument('<ref>', 'image reference (rpulled first when not in the store)').argument('<dir>', 'mount point');
  addRegistryFlags(cmd);
  addPlatformFlag(cmd, 'platform to mount from a multi-platform image; a single-platform image must be it (default: this host\'s)');
  cmd
    .option('--no-background-fetch', 'fetch only what is read (and the prefetch region)')
    .option('--cache-max-bytes <n>', 'bound of the shared chunk cache in bytes (default: min(10 GiB, half the free disk))', intArg([1, Number.MAX_SAFE_INTEGER]))
    .option('--skip-content-verify', 'do not verify TOCs and chunks (unsafe)')
    .option('--rw', 'a writable overlay over the image; what is written is discarded at unmount')
    .option('--json', 'print the mount as JSON');
  addSnapshotterFlag(cmd, 'stargz (default): eStargz layers stay lazy; overlayfs: every layer unpacked (the image must be pulled in full)');
  return cmd.action((ref: string, dir: string, flags, self: Command) =>
    ctx.run(self, 'mount', ref, async () => {
      const { mountImage } = await ctx.load(() => import('../../image/lazy/mount.js'));
      const mounted = await mountImage(await ctx.context(self), ref, dir, {
        registry: await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal),
        ...(flags.platform !== undefined ? { platform: flags.platform } : {}),
        noBackgroundFetch: flags.backgroundFetch === false,
        ...(flags.cacheMaxBytes !== undefined ? { cacheMaxBytes: flags.cacheMaxBytes } : {}),
        ...(flags.skipContentVerify ? { skipContentVerify: true } : {}),
        ...(flags.rw ? { rw: true } : {}),
        ...(flags.snapshotter ? { snapshotter: flags.snapshotter } : {}),
        ...(flags.json ? {} : { onLayer: (l, i) => printLine(ctx.io, layerLine(l, i)) }),
        onWarning: (line) => printErr(ctx.io, `ctr-remote: warning: ${line}`),
        signal: ctx.signal,
      });
      // Listening before the "mounted" line: a SIGTERM (what `image unmount` sends) arriving right after it is
      // the normal end of the mount, exit 0.
      const unmountRequested = (): void => void (ctx.abortWasNormalEnd = true);
      process.once('SIGTERM', unmountRequested);
      if (flags.json) ctx.printJson({ dir: mounted.dir, id: mounted.id, name: mounted.image.name, layers: mounted.layers.map(({ index, digest, mode, dir: d }) => ({ index, digest, mode, dir: d })) });
      else {
        const lazy = mounted.layers.filter((l) => l.mode === 'lazy').length;
        printLine(ctx.io, `mounted ${mounted.image.name} at ${mounted.dir} (${lazy} of ${mounted.layers.length} layers lazy${flags.rw ? '; writable, writes discarded at unmount' : ''}); Ctrl-C to unmount`);
      }
      // An image without lazy layers is served by no FUSE session of ours, so nothing else keeps this
      // process (which holds the mount until Ctrl-C or `image unmount`) alive.
      const keepAlive = setInterval(() => undefined, 1 << 30);
      try {
        await mounted.closed;
      } finally {
        clearInterval(keepAlive);
        process.off('SIGTERM', unmountRequested);
      }
    }),
  );
}
