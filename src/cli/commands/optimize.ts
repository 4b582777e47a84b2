// `ctr-remote image optimize --oci [workload flags] SRC DST`: convert SRC to eStargz with the files a
// workload reads first (root: FUSE, overlayfs, runc). Flags as in the reference's `ctr-remote image
// optimize`. Prints the new image digest (`--json`: a summary object); the workload's stdout is shown on
// our stdout (on stderr with --json, so that stdout stays JSON).
import { DEFAULT_TOC_LIMITS } from '../../estargz/toc-limits.js';
import { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import type { Platform } from '../../oci/types.js';
import type { CliContext } from '../cli-context.js';
import { printErr, printLine } from '../cli-io.js';
import { addContainerFlags, checkNetworkFlags, cniFlagsWarning, containerOptions, type ContainerFlags } from '../container-flags.js';
import { intArg, secondsArg } from '../number-flags.js';
import { addPlatformFlags, platformOptions } from '../platform-flags.js';
import { addTlsAndHostsFlags, registryOptions } from '../registry-flags.js';
import { flagParser, usageError } from '../usage-error.js';

interface OptimizeFlags extends ContainerFlags {
  oci?: boolean;
  entrypoint?: string[];
  args?: string[];
  terminal?: boolean;
  i?: boolean;
  period: number;
  waitOnLine?: string;
  waitOnSignal?: boolean;
  recordOut?: string;
  optimize?: boolean;
  reuse?: boolean;
  estargzCompressionLevel: number;
  estargzChunkSize: number;
  zstdchunked?: boolean;
  platform?: Platform;
  allPlatforms?: boolean;
  json?: boolean;
  plainHttp?: boolean;
  skipVerify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  hostsDir?: string;
  httpDump?: boolean;
}

/** The optimize command. */
export function optimizeCommand(ctx: CliContext): Command {
  const cmd = new Command('optimize')
    .description('convert an image to eStargz with the files a workload reads first (root)')
    .argument('<src>', 'source image: local name, registry reference or oci:DIR[:TAG]')
    .argument('<dst>', 'destination: local name or oci:DIR[:TAG]')
    .option('--oci', 'write OCI media types (needed for the TOC digest annotations)')
    .option('--entrypoint <json>', 'entrypoint of the workload as a JSON array (default: the image Entrypoint)', flagParser(jsonArray))
    .option('--args <json>', 'arguments of the workload as a JSON array (default: the image Cmd)', flagParser(jsonArray))
    .option('-t, --terminal', 'allocate a terminal (needs -i)')
    .option('-i', 'attach stdin')
    .option('--period <seconds>', 'longest workload run', secondsArg([0.001, 86_400]), 10)
    .option('--wait-on-line <text>', 'end the workload once a stdout line contains this text')
    .option('--wait-on-signal', 'run the workload until it exits or SIGINT (Ctrl+C) ends the recording; no --period (not with -t)')
    .option('--record-out <file>', 'write the accessed files (NDJSON) to this file')
    .option('--no-optimize', 'convert only: no workload run, no priorities')
    .option('--reuse', 'keep layers without accesses that already are valid eStargz')
    .option('--estargz-compression-level <n>', 'gzip level 0-9', intArg([0, 9]), 9)
    .option('--estargz-chunk-size <bytes>', 'chunk size of large files (0 = 4 MiB)', intArg([0, DEFAULT_TOC_LIMITS.maxChunkSize]), 0)
    .option('--zstdchunked', 'write zstd:chunked layers');
  addContainerFlags(cmd);
  addPlatformFlags(cmd);
  // The registry flags but -u (here --user is the workload's user, as in the reference); credentials
  // come from ~/.docker/config.json.
  cmd
    .option('--plain-http', 'SRC in a registry: use plain HTTP (automatic for localhost and 127.0.0.1)')
    .option('-k, --skip-verify', 'SRC in a registry: skip TLS certificate verification');
  addTlsAndHostsFlags(cmd, 'SRC in a registry: ');
  cmd.option('--json', 'print the result as JSON');
  return cmd.action((src: string, dst: string, flags: OptimizeFlags, self: Command) =>
    ctx.run(self, 'optimize', src, async () => {
      if (flags.terminal && !flags.i) throw usageError('-t needs -i (a terminal reads stdin)');
      if (flags.waitOnSignal && flags.terminal) throw usageError('--wait-on-signal cannot be used with -t (the terminal would take the Ctrl+C)');
      if (flags.waitOnSignal && flags.waitOnLine !== undefined) throw usageError('--wait-on-signal and --wait-on-line exclude each other: the recording ends on SIGINT or at the line');
      checkNetworkFlags(flags);
      const cniWarning = cniFlagsWarning(flags);
      if (cniWarning) printErr(ctx.io, `ctr-remote: warning: ${cniWarning}`);
      const out = flags.json ? ctx.io.stderr : ctx.io.stdout;
      const { optimizeImage } = await ctx.load(() => import('../../image/optimize/optimize.js'));
      const result = await optimizeImage(await ctx.context(self), src, dst, {
        registry: await registryOptions({
          plainHttp: flags.plainHttp, skipVerify: flags.skipVerify, tlscacert: flags.tlscacert, tlscert: flags.tlscert, tlskey: flags.tlskey, hostsDir: flags.hostsDir, httpDump: flags.httpDump,
        }, ctx.io, ctx.debugLog(self)),
        ...(flags.oci ? { oci: true } : {}),
        ...(flags.entrypoint !== undefined ? { entrypoint: flags.entrypoint } : {}),
        ...(flags.args !== undefined ? { args: flags.args } : {}),
        ...containerOptions(flags),
        tty: flags.terminal === true,
        stdin: flags.i === true,
        period: flags.period,
        ...(flags.waitOnLine !== undefined ? { waitOnLine: flags.waitOnLine } : {}),
        ...(flags.waitOnSignal ? { waitOnSignal: true } : {}),
        ...(flags.recordOut ? { recordOut: flags.recordOut } : {}),
        noOptimize: flags.optimize === false,
        ...(flags.reuse ? { reuse: true } : {}),
        level: flags.estargzCompressionLevel,
        chunkSize: flags.estargzChunkSize,
        ...(flags.zstdchunked ? { zstdChunked: true } : {}),
        ...platformOptions(flags),
        stdout: out,
        stderr: ctx.io.stderr,
        onWarning: (m) => printErr(ctx.io, `ctr-remote: warning: ${m}`),
        onStep: (m) => printErr(ctx.io, `optimize: ${m}`),
        signal: ctx.signal,
      });
      if (!flags.json) return printLine(ctx.io, result.descriptor.digest);
      ctx.printJson({
        name: result.name,
        digest: result.descriptor.digest,
        mediaType: result.descriptor.mediaType,
        size: result.descriptor.size,
        optimized: result.optimized ?? null,
        workload: result.workload ?? null,
        accessedFiles: result.records.length,
        layers: result.layers.map((l) => ({ from: l.from.digest, to: l.to.digest, diffId: l.diffId, tocDigest: l.to.annotations?.['containerd.io/snapshot/stargz/toc.digest'], reused: l.reused })),
      });
    }),
  );
}

/** A JSON array of strings (--entrypoint, --args). */
function jsonArray(text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw invalidArgument(`Expected a JSON array of strings, e.g. '["/bin/sh","-c"]'`);
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalidArgument('Expected a JSON array of strings');
  return v;
}

