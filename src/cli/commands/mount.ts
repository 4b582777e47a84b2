// `ctr-remote image mount [flags] REF DIR`: the image as a read-only, lazily fetched tree at DIR. Stays in
// the foreground; Ctrl-C (exit 130) or `image unmount DIR` (exit 0) unmounts. `image unmount` asks the
// serving process with SIGTERM, so once mounted, SIGTERM is the user's unmount: a normal end.
import { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import { mountImage } from '../../image/mount.js';
import { parsePlatform } from '../../image/platform.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printJson, printLine } from '../cli-io.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';
import { layerLine } from './rpull.js';

/** The mount command. */
export function mountCommand(ctx: CliContext): Command {
  const cmd = new Command('mount').description('mount an image read-only at DIR, fetching its eStargz layers lazily (root; stays in the foreground)')
    .argument('<ref>', 'image reference (rpulled first when not in the store)').argument('<dir>', 'mount point');
  addRegistryFlags(cmd, ctx.io);
  cmd
    .option('--platform <os/arch[/variant]>', 'platform to mount (default: this host)')
    .option('--no-background-fetch', 'fetch only what is read (and the prefetch region)')
    .option('--cache-max-bytes <n>', 'bound of the shared chunk cache in bytes (default: min(10 GiB, half the free disk))')
    .option('--skip-content-verify', 'do not verify TOCs and chunks (unsafe)')
    .option('--json', 'print the mount as JSON');
  return cmd.action((ref: string, dir: string, flags, self: Command) =>
    ctx.run(self, 'mount', ref, async () => {
      const cacheMaxBytes = flags.cacheMaxBytes === undefined ? undefined : Number(flags.cacheMaxBytes);
      if (cacheMaxBytes !== undefined && !(cacheMaxBytes > 0)) throw invalidArgument(`--cache-max-bytes wants a positive number of bytes, got ${flags.cacheMaxBytes}`);
      const mounted = await mountImage(ctx.globals(self).root, ref, dir, {
        registry: await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal),
        ...(flags.platform !== undefined ? { platform: parsePlatform(flags.platform) } : {}),
        noBackgroundFetch: flags.backgroundFetch === false,
        ...(cacheMaxBytes !== undefined ? { cacheMaxBytes } : {}),
        ...(flags.skipContentVerify ? { skipContentVerify: true } : {}),
        ...(flags.json ? {} : { onLayer: (l, i) => printLine(ctx.io, layerLine(l, i)) }),
        onWarning: (line) => printErr(ctx.io, `ctr-remote: warning: ${line}`),
        signal: ctx.signal,
      });
      // Listening before the "mounted" line: a SIGTERM (what `image unmount` sends) arriving right after it is
      // the normal end of the mount, exit 0.
      const unmountRequested = (): void => void (ctx.abortWasNormalEnd = true);
      process.once('SIGTERM', unmountRequested);
      if (flags.json) printJson(ctx.io, { dir: mounted.dir, id: mounted.id, name: mounted.image.name, layers: mounted.layers.map(({ index, digest, mode, dir: d }) => ({ index, digest, mode, dir: d })) });
      else {
        const lazy = mounted.layers.filter((l) => l.mode === 'lazy').length;
        printLine(ctx.io, `mounted ${mounted.image.name} at ${mounted.dir} (${lazy} of ${mounted.layers.length} layers lazy); Ctrl-C to unmount`);
      }
      try {
        await mounted.closed;
      } finally {
        process.off('SIGTERM', unmountRequested);
      }
    }),
  );
}
