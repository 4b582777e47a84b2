// `ctr-remote image get-toc-digest [--dump-toc] [--zstdchunked] LAYER-DIGEST`: the TOC digest (or the TOC
// itself) of an eStargz / zstd:chunked layer blob in the local store.
import { Command } from 'commander';
import type { CliContext } from '../cli-context.js';
import { printLine } from '../cli-io.js';

/** The get-toc-digest command. */
export function getTocDigestCommand(ctx: CliContext): Command {
  return new Command('get-toc-digest')
    .description('print the TOC digest of an eStargz layer in the local store')
    .argument('<layer-digest>', 'digest of the layer blob (sha256:...)')
    .option('--dump-toc', 'print the TOC JSON instead of its digest')
    .option('--zstdchunked', 'the layer is zstd:chunked')
    .option('--json', 'print {digest, toc?} as JSON')
    .action((digest: string, flags: { dumpToc?: boolean; zstdchunked?: boolean; json?: boolean }, self: Command) =>
      ctx.run(self, 'get-toc-digest', digest, async () => {
        const { layerToc } = await ctx.load(() => import('../../image/convert/layer-toc.js'));
        const toc = await layerToc(await ctx.context(self), digest, { format: flags.zstdchunked ? 'zstd' : 'gzip', signal: ctx.signal });
        if (flags.json) ctx.printJson({ digest: toc.tocDigest, ...(flags.dumpToc ? { toc: JSON.parse(toc.tocJson.toString('utf8')) } : {}) });
        else if (flags.dumpToc) printLine(ctx.io, toc.tocJson.toString('utf8'));
        else printLine(ctx.io, toc.tocDigest);
      }),
    );
}
