// `ctr-remote image convert (--estargz | --zstdchunked | --uncompress) [--oci] [flags] SRC DST`: convert an
// image's layers, flags as in the reference's `ctr-remote image convert`.
import { DEFAULT_TOC_LIMITS } from '../../estargz/toc-limits.js';
import { Command } from 'commander';
import type { Platform } from '../../oci/types.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { intArg } from '../number-flags.js';
import { addPlatformFlags, platformOptions } from '../platform-flags.js';
import { addRegistryFlags, registryOptions } from '../registry-flags.js';
import { usageError } from '../usage-error.js';

interface ConvertFlags {
  estargz?: boolean;
  zstdchunked?: boolean;
  uncompress?: boolean;
  oci?: boolean;
  estargzCompressionLevel: number;
  estargzChunkSize: number;
  estargzMinChunkSize: number;
  estargzRecordIn?: string;
  zstdchunkedCompressionLevel: number;
  reuse?: boolean;
  platform?: Platform;
  allPlatforms?: boolean;
  json?: boolean;
  plainHttp?: boolean;
  skipVerify?: boolean;
  user?: string;
  tlscacert?: string;
}

/** The convert command. */
export function convertCommand(ctx: CliContext): Command {
  const cmd = new Command('convert')
    .description('convert an image to eStargz, zstd:chunked or uncompressed layers')
    .argument('<src>', 'source image: local name, registry reference or oci:DIR[:TAG]')
    .argument('<dst>', 'destination: local name or oci:DIR[:TAG]')
    .option('--estargz', 'convert layers to eStargz (gzip)')
    .option('--zstdchunked', 'convert layers to zstd:chunked')
    .option('--uncompress', 'convert layers to uncompressed tar')
    .option('--oci', 'write OCI media types (needed for the TOC digest annotations)')
    .option('--estargz-compression-level <n>', 'gzip level 0-9', intArg([0, 9]), 9)
    .option('--estargz-chunk-size <bytes>', 'chunk size of large files (0 = 4 MiB)', intArg([0, DEFAULT_TOC_LIMITS.maxChunkSize]), 0)
    .option('--estargz-min-chunk-size <bytes>', 'pack small files into shared gzip members up to this size (0 = off; needs a reader newer than 0.12)', intArg([0, DEFAULT_TOC_LIMITS.maxChunkSize]), 0)
    .option('--estargz-record-in <file>', 'NDJSON record of accessed files (from optimize --record-out) to put first')
    .option('--zstdchunked-compression-level <n>', 'zstd level 1-22', intArg([1, 22]), 3)
    .option('--reuse', 'keep layers that already are eStargz and hold no recorded file');
  addPlatformFlags(cmd);
  addRegistryFlags(cmd);
  cmd.option('--json', 'print the result as JSON');
  return cmd.action((src: string, dst: string, flags: ConvertFlags, self: Command) =>
    ctx.run(self, 'convert', src, async () => {
      const format = pickFormat(flags);
      const zstd = format === 'zstdchunked';
      const { convertLocations } = await ctx.load(() => import('../../image/convert/convert-locations.js'));
      const result = await convertLocations(await ctx.context(self), src, dst, {
        registry: await registryOptions(flags, ctx.io, ctx.debugLog(self), ctx.signal),
        format,
        ...(flags.oci ? { oci: true } : {}),
        level: zstd ? flags.zstdchunkedCompressionLevel : flags.estargzCompressionLevel,
        chunkSize: flags.estargzChunkSize,
        minChunkSize: flags.estargzMinChunkSize,
        ...(flags.estargzRecordIn ? { recordIn: flags.estargzRecordIn } : {}),
        ...(flags.reuse ? { reuse: true } : {}),
        ...platformOptions(flags),
        onWarning: (m) => printErr(ctx.io, `ctr-remote: warning: ${m}`),
        signal: ctx.signal,
      });
      if (flags.json) {
        ctx.printJson({
          name: result.name,
          digest: result.descriptor.digest,
          mediaType: result.descriptor.mediaType,
          size: result.descriptor.size,
          layers: result.layers.map((l) => ({ from: l.from.digest, to: l.to.digest, diffId: l.diffId, tocDigest: l.to.annotations?.['containerd.io/snapshot/stargz/toc.digest'], reused: l.reused })),
        });
      } else printLine(ctx.io, result.descriptor.digest);
    }),
  );
}

function pickFormat(f: ConvertFlags): 'estargz' | 'zstdchunked' | 'uncompress' {
  const chosen = (['estargz', 'zstdchunked', 'uncompress'] as const).filter((k) => f[k]);
  if (chosen.length !== 1) throw usageError('convert needs exactly one of --estargz, --zstdchunked, --uncompress');
  return chosen[0] as 'estargz' | 'zstdchunked' | 'uncompress';
}

