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
        const [{ openEStargz }, { digestHex }, { openStore }] = await Promise.all([
          import('../../estargz/reader.js'), import('../../oci/digest.js'), import('../../store/image-store.js'),
        ]);
        digestHex(digest);
        const store = await openStore(ctx.globals(self).root);
        const r = await store.readerAt(digest);
        try {
          const rd = await openEStargz(r, { format: flags.zstdchunked ? 'zstd' : 'gzip', signal: ctx.signal });
          if (flags.json) ctx.printJson({ digest: rd.tocDigest, ...(flags.dumpToc ? { toc: JSON.parse(rd.tocJson.toString('utf8')) } : {}) });
          else if (flags.dumpToc) printLine(ctx.io, rd.tocJson.toString('utf8'));
          else printLine(ctx.io, rd.tocDigest);
        } finally {
          await r.close?.();
        }
      }),
    );
}
