// `ctr-remote image status REF`: per layer, lazy or full (and why), how much is local, bytes fetched,
// cache hits and errors of its live (or last) mount or run, reads refused for lack of credentials first.
import { Command } from 'commander';
import type { LayerStatus } from '../../image/lazy/status.js';
import type { LayerState } from '../../layer/layer-state.js';
import type { Platform } from '../../oci/types.js';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';
import { humanSize } from '../human-size.js';
import { addPlatformFlag } from '../platform-flags.js';
import { renderTable } from '../table.js';

function row(l: LayerStatus): string[] {
  const local = l.mode === 'lazy' ? `${humanSize(l.cachedBytes ?? 0)}/${humanSize(l.totalBytes ?? 0)}` : 'all';
  const s = l.state;
  const fetched = s ? `${humanSize(s.bytesFetched)}/${humanSize(l.size)}${l.live ? '' : ' (last mount)'}` : '-';
  return [String(l.index), l.digest.slice(0, 19), l.mode, local, fetched, s ? String(s.cacheHits) : '-', s ? String(s.errors) : '-', l.reason ?? note(s)];
}

/** What the NOTE column says about a lazy layer: a refusal for lack of credentials first, else the last error. */
function note(s: LayerState | undefined): string {
  if (s?.authError) return `unauthorized: the registry refused reads (${s.authError.time}); give run or image mount -u USER, or docker login`;
  return s?.lastError?.message ?? '';
}

/** The status command. */
export function statusCommand(ctx: CliContext): Command {
  const cmd = new Command('status').description('show how each layer of an image is provided and what was fetched').argument('<ref>', 'image reference');
  addPlatformFlag(cmd, 'platform of a multi-platform image (default: this host\'s)');
  return cmd
    .option('--json', 'print the status as JSON')
    .action((ref: string, flags: { platform?: Platform; json?: boolean }, self: Command) =>
      ctx.run(self, 'status', ref, async () => {
        const { imageStatus } = await ctx.load(() => import('../../image/lazy/status.js'));
        const st = await imageStatus(await ctx.context(self), ref, flags.platform);
        if (flags.json) return ctx.printJson(st);
        printLine(ctx.io, `${st.name} ${st.manifestDigest}${st.mounts.length ? ` mounted at ${st.mounts.map((m) => m.dir).join(', ')}` : ''}`);
        if (st.keeper) printLine(ctx.io, `served by the keeper (pid ${st.keeper.pid}): ${st.keeper.layers} lazy layer(s)`);
        printLine(ctx.io, renderTable(['LAYER', 'DIGEST', 'MODE', 'LOCAL', 'FETCHED', 'HITS', 'ERRORS', 'NOTE'], st.layers.map(row)));
      }),
    );
}
