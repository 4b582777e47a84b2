// optimize's workload: a temporary runc container over the recorded layers that runs for at most
// `period`, ends earlier when its process exits or a stdout line contains `waitOnLine`, and is then
// killed and torn down (overlay, layer mounts, runc state, container directory) on every path.
// It composes runtime/ (paths, owner record, overlay, spec, runc state) like runtime/container.ts,
// but spawns runc itself because it must watch stdout line by line while still showing it.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CtrError, invalidArgument } from '../errors.js';
import type { ImageConfig } from '../oci/types.js';
import { removeContainer } from '../runtime/cleanup.js';
import { containerPaths, runcStateDir, type ContainerPaths } from '../runtime/container-paths.js';
import { writeEtcFiles } from '../runtime/etc-files.js';
import { mountsUnder } from '../runtime/mountinfo.js';
import { claimContainerDir, ownRecord } from '../runtime/owner.js';
import { mountOverlay, unmount } from '../runtime/rootfs.js';
import { runcDelete, runcKill } from '../runtime/runc.js';
import { buildSpec } from '../runtime/spec.js';
import type { SpecMount } from '../runtime/spec-types.js';
import { resolveUser } from '../runtime/user.js';
import type { StagedMounts } from './optimize-mounts.js';

/** What to run and how (optimize's workload flags). */
export interface WorkloadOptions {
  /** The tool's root; the container lives in `<root>/containers/<id>`. */
  root: string;
  id: string;
  /** Image name for the owner record and messages. */
  ref: string;
  /** Mounts the layers under `paths.layers` (so a crashed run's cleanup finds them). */
  layers: (paths: ContainerPaths) => Promise<StagedMounts>;
  /** The image config's `config` section. */
  image: ImageConfig['config'] | undefined;
  /** `--entrypoint` / `--args`: replace the image Entrypoint / Cmd. Default: the image's. */
  entrypoint?: string[];
  cmd?: string[];
  /** Env overrides in order. */
  env?: string[];
  cwd?: string;
  user?: string;
  mounts?: SpecMount[];
  netHost?: boolean;
  /** `-t`: a terminal (needs `stdin`). Default false. */
  tty?: boolean;
  /** `-i`: attach our stdin. Default false. */
  stdin?: boolean;
  /** Longest run in ms. */
  periodMs: number;
  /** End once a stdout line contains this text. Default: no watch. */
  waitOnLine?: string;
  /** Where the container's stdout and stderr are shown. Default: ours. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Called once the workload process has been spawned: recording starts here. */
  onStart?: () => void;
  runc?: string;
  signal?: AbortSignal;
}

/** Why the workload ended. */
export interface WorkloadResult {
  ended: 'exit' | 'period' | 'line';
  /** Exit code when the process ended on its own. */
  exitCode?: number;
}

/** Run the workload (see module comment). */
export async function runWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  if (o.tty && !o.stdin) throw invalidArgument('-t needs -i (a terminal reads stdin)');
  const paths = containerPaths(o.root, o.id);
  await claimContainerDir(paths, await ownRecord(o.ref, true));
  let layers: StagedMounts | undefined;
  try {
    layers = await o.layers(paths);
    await writeBundle(o, paths, layers);
    return await spawnAndWatch(o, paths);
  } finally {
    await runcDelete(runcStateDir(o.root), o.id, { force: true, ...(o.runc ? { runc: o.runc } : {}) }).catch(() => undefined);
    if ((await mountsUnder(paths.rootfs)).length > 0) await unmount(paths.rootfs).catch(() => undefined);
    await layers?.release();
    await removeContainer(o.root, o.id, o.runc ? { runc: o.runc } : {});
  }
}

async function writeBundle(o: WorkloadOptions, paths: ContainerPaths, layers: StagedMounts): Promise<void> {
  const { signal } = o;
  await mountOverlay({ lowerdirs: layers.lowerdirs, upperdir: paths.upper, workdir: paths.work, target: paths.rootfs, linkDir: paths.dir, signal });
  const user = resolveUser(o.user ?? o.image?.User ?? '', {
    passwd: await layers.readImageFile('etc/passwd'),
    group: await layers.readImageFile('etc/group'),
  });
  await mkdir(paths.bundle, { recursive: true });
  const hostname = o.id.slice(0, 63);
  const etc = await writeEtcFiles(paths.bundle, { hostname, netHost: o.netHost, signal });
  const { entrypoint, cmd, env, cwd, mounts, netHost, tty } = o;
  const spec = buildSpec({ id: o.id, rootfs: paths.rootfs, image: o.image, user, etc, hostname, entrypoint, cmd, env, cwd, mounts, netHost, terminal: tty });
  await writeFile(join(paths.bundle, 'config.json'), JSON.stringify(spec, null, 2));
}

async function spawnAndWatch(o: WorkloadOptions, paths: ContainerPaths): Promise<WorkloadResult> {
  o.signal?.throwIfAborted();
  const stateDir = runcStateDir(o.root);
  const child = execa(o.runc ?? 'runc', ['--root', stateDir, 'run', '--bundle', paths.bundle, o.id], {
    stdin: o.stdin ? 'inherit' : 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    // Its own process group (our Ctrl-C is handled by us) unless it needs our terminal (reading a tty
    // from a background group would stop it with SIGTTIN).
    detached: !(o.tty || (o.stdin && process.stdin.isTTY === true)),
    buffer: false,
  });
  o.onStart?.();
  let ended: WorkloadResult['ended'] = 'exit';
  const stop = (why: WorkloadResult['ended']) => {
    if (ended !== 'exit') return;
    ended = why;
    void runcKill(stateDir, o.id, 'KILL', o.runc).catch(() => child.kill('SIGKILL'));
  };
  const timer = setTimeout(() => stop('period'), o.periodMs);
  const onAbort = () => stop('period');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const out = o.stdout ?? process.stdout;
  let pending = '';
  child.stdout?.on('data', (b: Buffer) => {
    out.write(b);
    if (o.waitOnLine === undefined) return;
    const lines = (pending + b.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    if (lines.some((l) => l.includes(o.waitOnLine as string))) stop('line');
  });
  child.stderr?.on('data', (b: Buffer) => (o.stderr ?? process.stderr).write(b));
  try {
    const r = await child;
    if (o.signal?.aborted) throw new CtrError('Aborted', 'optimize was interrupted; the workload was stopped', { cause: o.signal.reason });
    if (ended === 'exit' && o.waitOnLine !== undefined && pending.includes(o.waitOnLine)) ended = 'line';
    return ended === 'exit' ? { ended, exitCode: r.exitCode ?? 128 } : { ended };
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
}
