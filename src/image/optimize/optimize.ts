// `image optimize SRC DST`: convert SRC's layers to eStargz with the files a workload reads first.
//   1. convert the optimized platform's manifest without priorities into a staging layout under
//      `<root>/optimize/<pid>-<rand>` (nothing is visible under DST);
//   2. mount those staged blobs locally through the FUSE core with the access recorder on, assemble an
//      overlayfs rootfs with a throwaway upper dir, run the workload in a temporary runc container for at
//      most the period (optimize-workload.ts), then take everything down;
//   3. convert SRC again with each layer's accessed files first (`.prefetch.landmark` after them; layers
//      without accesses get `.no.prefetch.landmark`, as the reference) and name the result DST.
// With an index, the host platform (or `--platform`, when it is the host's) is optimized; the other
// platforms are converted without priorities (`--all-platforms`), and a warning says so.
import { rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CtrError, invalidArgument, unsupported } from '../../errors.js';
import { MAX_CONFIG_SIZE } from '../../oci/manifest-json.js';
import { removeDeadOwned, ownedName } from '../../host/owned-names.js';
import { Annotation, isManifestType } from '../../oci/media-types.js';
import type { Descriptor, ImageConfig, Manifest, Platform } from '../../oci/types.js';
import type { RegistryOptions } from '../../remote/registry-endpoint.js';
import { cleanupStaleContainers } from '../../runtime/cleanup.js';
import { planCni, type CniOptions } from '../../runtime/cni.js';
import type { ExtraHost, ResolverSettings } from '../../runtime/etc-files.js';
import { containerEnv } from '../../runtime/env.js';
import { containerMounts } from '../../runtime/mount-flag.js';
import { LayoutEndpoint } from '../../store/layout-endpoint.js';
import { openLayout, type OciLayout } from '../../store/oci-layout.js';
import { writeOrCollect } from '../../store/gc.js';
import { convertImage, type ConvertImageOptions, type ConvertImageResult } from '../convert/convert.js';
import type { ImageSink, ImageSource } from '../../content/endpoint.js';
import { openLocation, openStoreImage, parseLocation, sourceMode, type EndpointContext } from '../location.js';
import { writeNewLayout } from '../convert/new-layout.js';
import type { Context } from '../context.js';
import type { RootLayout } from '../../store/root-layout.js';
import { convertFinal, scopedSource } from './optimize-convert.js';
import { mountStagedLayers, type StagedLayer } from './optimize-mounts.js';
import { AccessLog, writeRecordFile, type RecordEntry } from './optimize-record.js';
import { runWorkload, type WorkloadResult } from './optimize-workload.js';
import { formatPlatform, hostPlatform, platformMatches, selectImageManifest, selectPlatform } from '../platform.js';
import { readManifest, type FetchedManifest } from '../../content/read-manifest.js';

/** Options of optimizeImage (the CLI flags of `image optimize`). */
export interface OptimizeOptions {
  registry?: RegistryOptions;
  /** `--oci`: write OCI media types (needed for the TOC digest annotations). Default false, as convert. */
  oci?: boolean;
  /** `--entrypoint` / `--args`: replace the image Entrypoint / Cmd. Default: the image's. */
  entrypoint?: string[];
  args?: string[];
  /** `--env K=V`, applied after `--env-file`. */
  env?: string[];
  envFile?: string;
  cwd?: string;
  user?: string;
  /** `--mount type=bind,source=S,destination=D,options=ro:rbind`. */
  mounts?: string[];
  netHost?: boolean;
  /** `--cni` (with `--cni-plugin-conf-dir`, `--cni-plugin-dir`): the workload's network from CNI plugins. Default: none. */
  cni?: CniOptions;
  /** `--dns-nameservers`, `--dns-search-domains`, `--dns-options`: the workload's /etc/resolv.conf lines. */
  dns?: ResolverSettings;
  /** `--add-hosts`: lines added to the workload's /etc/hosts. */
  extraHosts?: ExtraHost[];
  /** `--wait-on-signal`: the workload runs until it exits or SIGINT ends the recording (no period). Default false. */
  waitOnSignal?: boolean;
  /** `-t` (needs `-i`) and `-i`. Default false. */
  tty?: boolean;
  stdin?: boolean;
  /** `--period` in seconds. Default 10. */
  period?: number;
  /** `--wait-on-line TEXT`: end the workload once a stdout line contains TEXT. */
  waitOnLine?: string;
  /** `--record-out FILE`: write the NDJSON record there. */
  recordOut?: string;
  /** `--no-optimize`: convert only (no workload run, no priorities). Default false. */
  noOptimize?: boolean;
  /** `--reuse`: keep layers with no access that already are valid eStargz. Default false. */
  reuse?: boolean;
  /** `--estargz-compression-level` (gzip only; default 9). */
  level?: number;
  /** `--estargz-chunk-size` in bytes (default 4 MiB). */
  chunkSize?: number;
  /** `--zstdchunked`: write zstd:chunked layers. Default false. */
  zstdChunked?: boolean;
  /** `--platform`: the platform to convert (and optimize when it is the host's). Default: the host's. */
  platform?: Platform;
  /** `--all-platforms`: convert every platform of an index. Default false. */
  allPlatforms?: boolean;
  /** Where the workload's output is shown. Default: our stdout/stderr. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Warnings for the user (platforms not optimized, Docker media types). */
  onWarning?: (message: string) => void;
  /** Progress lines ("converting", "running the workload", ...). */
  onStep?: (message: string) => void;
  /** runc binary. Default `runc`. */
  runc?: string;
  signal?: AbortSignal;
}

/** What optimize did. */
export interface OptimizeResult extends ConvertImageResult {
  /** DST as printed. */
  name: string;
  /** The optimized platform's source manifest, when a workload ran. */
  optimized?: { manifestDigest: string; platform?: string };
  /** How the workload ended. */
  workload?: WorkloadResult;
  /** The accesses, as written to `--record-out`. */
  records: RecordEntry[];
}

/** Optimize SRC into DST (see module comment). Root only unless `noOptimize`. */
export async function optimizeImage(ctx: Context, srcText: string, dstText: string, o: OptimizeOptions): Promise<OptimizeResult> {
  if (!o.noOptimize && process.getuid?.() !== 0) {
    throw unsupported('image optimize needs root: it mounts FUSE and overlayfs and runs the workload with runc (--no-optimize converts without running it)');
  }
  if (o.tty && !o.stdin) throw invalidArgument('-t needs -i (a terminal reads stdin)');
  if (o.waitOnSignal && o.tty) throw invalidArgument('--wait-on-signal cannot be used with -t (the terminal would take the Ctrl+C)');
  if (o.cni && o.netHost) throw invalidArgument('--cni and --net-host exclude each other: a container has one network');
  if (o.cni && !o.noOptimize) await planCni(o.cni, o.signal); // a missing plugin is reported before any conversion
  // Before anything: SRC and DST may both be oci: layouts, so the store (which secures the root) may never be opened.
  await ctx.secure();
  const endpoints: EndpointContext = { context: ctx, ...(o.registry ? { registry: o.registry } : {}) };
  const srcLoc = parseLocation(srcText);
  const src = await openLocation(srcLoc, await sourceMode(srcLoc, endpoints), endpoints);
  try {
    const top = await chooseTop(src.endpoint, o);
    const target = o.noOptimize ? undefined : optimizedManifest(top, o);
    const analysis = target ? await analyze(ctx, src.endpoint, target, o) : undefined;
    const records = analysis?.log.entries ?? [];
    if (o.recordOut && !o.noOptimize) await writeRecordFile(o.recordOut, records);
    o.onStep?.(analysis ? 'converting with the recorded files first' : 'converting');
    const final = { top, optimized: target, perLayer: analysis ? analysis.log.byLayer() : undefined };
    const out = await withDestination(dstText, ctx, (dst) => convertFinal(src.endpoint, dst, final, convertOptions(ctx, o)));
    return {
      ...out,
      records,
      ...(target ? { optimized: { manifestDigest: target.digest, ...(target.platform ? { platform: formatPlatform(target.platform) } : {}) } } : {}),
      ...(analysis ? { workload: analysis.workload } : {}),
    };
  } finally {
    await src.close();
  }
}

function convertOptions(ctx: Context, o: OptimizeOptions): ConvertImageOptions {
  return {
    format: o.zstdChunked ? 'zstdchunked' : 'estargz',
    tmpDir: ctx.paths.tmp,
    ...(o.oci ? { oci: true } : {}),
    ...(o.level !== undefined && !o.zstdChunked ? { level: o.level } : {}),
    ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
    ...(o.reuse ? { reuse: true } : {}),
    ...(o.onWarning ? { onWarning: o.onWarning } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  };
}

/** The root to convert: the image itself, the chosen platform's manifest, or the whole index. */
async function chooseTop(src: ImageSource, o: OptimizeOptions): Promise<FetchedManifest> {
  const root = await readManifest(src, await src.resolve(o.signal), o.signal);
  return o.allPlatforms ? root : selectImageManifest(src, root, o.platform, o.signal);
}

/** The manifest whose workload is run: the host platform's; undefined (with a warning) when there is none. */
function optimizedManifest(top: FetchedManifest, o: OptimizeOptions): Descriptor | undefined {
  const host = hostPlatform();
  if (top.parsed.kind !== 'index') {
    if (top.descriptor.platform && !platformMatches(host, top.descriptor.platform)) return notHost(top.descriptor, o);
    return top.descriptor;
  }
  const candidates = top.parsed.index.manifests.filter((d) => isManifestType(d.mediaType));
  let chosen: Descriptor;
  try {
    chosen = selectPlatform(candidates, host, 'the index');
  } catch {
    o.onWarning?.(`no ${formatPlatform(host)} manifest in the index: every platform is converted without priorities`);
    return undefined;
  }
  const others = candidates.length - 1;
  if (others > 0) o.onWarning?.(`optimizing ${formatPlatform(host)} only; the other ${others} platform(s) are converted without priorities`);
  return chosen;
}

function notHost(desc: Descriptor, o: OptimizeOptions): undefined {
  o.onWarning?.(`platform ${formatPlatform(desc.platform as Platform)} is not this host's (${formatPlatform(hostPlatform())}): converted without priorities, no workload run`);
  return undefined;
}

interface Analysis {
  log: AccessLog;
  workload: WorkloadResult;
}

/** Steps 1 and 2 of the module comment, cleaned up on every path. */
async function analyze(ctx: Context, src: ImageSource, target: Descriptor, o: OptimizeOptions): Promise<Analysis> {
  await cleanupStale(ctx.paths, o.runc);
  const workDir = join(ctx.paths.optimize, ownedName(''));
  try {
    o.onStep?.('converting without priorities into a staging area');
    const stage = await openLayout(join(workDir, 'stage'), { create: true });
    const staged = await convertImage(scopedSource(src, target), new LayoutEndpoint(stage, 'staged'), {
      format: 'estargz',
      oci: true,
      level: 1,
      tmpDir: ctx.paths.tmp,
      ...(o.chunkSize ? { chunkSize: o.chunkSize } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const manifest = JSON.parse(staged.bytes.toString('utf8')) as Manifest;
    const config = JSON.parse((await stage.readBytes(manifest.config.digest, MAX_CONFIG_SIZE)).toString('utf8')) as ImageConfig;
    const log = new AccessLog(target.digest);
    o.onStep?.(o.waitOnSignal ? 'running the workload; press Ctrl+C (SIGINT) to end the recording' : 'running the workload');
    const workload = await runStaged(ctx.paths, stagedLayers(stage, manifest), config, log, workDir, o);
    return { log, workload };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

function stagedLayers(stage: OciLayout, manifest: Manifest): StagedLayer[] {
  return manifest.layers.map((l) => {
    const tocDigest = l.annotations?.[Annotation.TocDigest];
    if (!tocDigest) throw new CtrError('Internal', `staged layer ${l.digest} has no TOC digest annotation`);
    return { digest: l.digest, blobPath: stage.blobPath(l.digest), tocDigest };
  });
}

async function runStaged(root: RootLayout, layers: StagedLayer[], config: ImageConfig, log: AccessLog, workDir: string, o: OptimizeOptions): Promise<WorkloadResult> {
  const env = await containerEnv(o.envFile, o.env);
  const mounts = containerMounts(o.mounts);
  const period = o.period ?? 10;
  if (!(period > 0)) throw invalidArgument(`--period must be a positive number of seconds, got ${period}`);
  try {
    return await runWorkload({
      root,
      id: `optimize-${basename(workDir)}`,
      ref: 'optimize',
      layers: (paths) => mountStagedLayers(layers, { dir: paths.layers, cacheDir: join(workDir, 'cache'), onAccess: (p, i) => log.add(p, i) }),
      image: config.config,
      ...(o.entrypoint ? { entrypoint: o.entrypoint } : {}),
      ...(o.args ? { cmd: o.args } : {}),
      env,
      mounts,
      ...(o.cwd ? { cwd: o.cwd } : {}),
      ...(o.user ? { user: o.user } : {}),
      netHost: o.netHost ?? false,
      ...(o.cni ? { cni: o.cni } : {}),
      ...(o.dns ? { dns: o.dns } : {}),
      ...(o.extraHosts ? { extraHosts: o.extraHosts } : {}),
      ...(o.waitOnSignal ? { waitOnSignal: true } : {}),
      tty: o.tty ?? false,
      stdin: o.stdin ?? false,
      periodMs: period * 1000,
      ...(o.waitOnLine !== undefined ? { waitOnLine: o.waitOnLine } : {}),
      ...(o.stdout ? { stdout: o.stdout } : {}),
      ...(o.stderr ? { stderr: o.stderr } : {}),
      onStart: () => log.arm(),
      ...(o.runc ? { runc: o.runc } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } finally {
    log.disarm();
  }
}

/** Containers and staging areas left by a killed optimize (or run). */
async function cleanupStale(root: RootLayout, runc: string | undefined): Promise<void> {
  await cleanupStaleContainers(root, runc ? { runc } : {});
  await removeDeadOwned(root.optimize, ['']);
}

/** Run `convert` into DST: a store name, an existing `oci:` layout, or a new one staged and renamed into place. */
async function withDestination(dstText: string, ctx: Context, convert: (dst: ImageSink) => Promise<ConvertImageResult>): Promise<ConvertImageResult & { name: string }> {
  const loc = parseLocation(dstText);
  if (loc.kind === 'reference') {
    const dst = await openStoreImage(ctx, loc.name);
    return { ...(await writeOrCollect(dst.layout, () => convert(dst))), name: loc.name };
  }
  const tag = loc.tag ?? 'latest';
  if (await exists(loc.dir)) return { ...(await convert(new LayoutEndpoint(await openLayout(loc.dir, { create: true }), tag))), name: loc.text };
  return { ...(await writeNewLayout(loc.dir, tag, convert)), name: loc.text };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
