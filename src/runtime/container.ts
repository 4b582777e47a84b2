// One container's whole life on this host: claim its directory, assemble the overlay rootfs, write
// the bundle, run it with runc in the foreground, and tear everything down again.
import { settleAll } from '../host/settle-all.js';
import { closeSync } from 'node:fs';
import { mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { invalidArgument, notFound, withContext } from '../errors.js';
import { removeContainer, stopContainer, type TeardownOptions } from './cleanup.js';
import { type ContainerPaths, containerPaths } from './container-paths.js';
import { hostCapabilities } from './capabilities.js';
import { attachCni, planCni, type CniOptions } from './cni.js';
import { writeEtcFiles, type ExtraHost, type ResolverSettings } from './etc-files.js';
import { hostDevices } from './host-devices.js';
import { openLogFile } from './log-file.js';
import { claimContainerDir, ownRecord, reclaimContainerDir } from './owner.js';
import { readFileInRoot } from './root-path.js';
import { mountsUnder } from '../host/mountinfo.js';
import { mountOverlay } from './rootfs.js';
import { unmount } from '../host/unmount.js';
import { type RuncRunResult, type StdioTarget, runcDelete, runcRun, runcState } from './runc.js';
import { buildSpec, type ContainerPrivileges, type HostFacts, type SpecInput } from './spec.js';
import type { RuntimeSpec, SpecMount } from './spec-types.js';
import { resolveUser } from './user.js';
import type { RootLayout } from '../store/root-layout.js';

/** The layers of a container's rootfs, as provided for it. */
export interface LayerDirs {
  /** Topmost first. */
  lowerdirs: string[];
  /** Take the layers down (after the overlay above them is gone). */
  release?: () => Promise<void>;
  /**
   * Read a file of the merged image (for /etc/passwd and /etc/group) without going through the rootfs.
   * Default: read it through the overlay. optimize's recorder reports each file once, so reading through
   * the rootfs before the workload starts would hide the workload's own read.
   */
  readImageFile?: (path: string) => Promise<string | undefined>;
}

/** What to run and how; the process settings are documented on SpecInput. */
export interface ContainerOptions extends Pick<SpecInput, 'id' | 'image' | 'args' | 'entrypoint' | 'cmd' | 'env' | 'cwd' | 'mounts' | 'netHost'>, ContainerPrivileges {
  /** The tool's root (`--root`); the container lives in `<root>/containers/<id>`. */
  root: RootLayout;
  /** Image reference, recorded for messages. */
  ref: string;
  /**
   * The image layers as directories, topmost first; or a function providing them once the container
   * directory exists (lazy layers mount themselves under `paths.layers`, so a crashed run's teardown
   * finds them), with a `release` called after the rootfs is unmounted.
   */
  lowerdirs: string[] | ((paths: ContainerPaths) => Promise<LayerDirs>);
  /**
   * `run --rootfs`: this directory is the container's root filesystem as it is (no overlay: writes land in
   * it, as with the reference); `lowerdirs` is then not used. Default: the overlay of `lowerdirs`.
   */
  rootfsDir?: string;
  /** `--cni`: a network namespace of its own configured by CNI plugins (cni.ts). Default: none (see netHost). */
  cni?: CniOptions;
  /** The DNS flags: lines of /etc/resolv.conf replaced (etc-files.ts). Default: none. */
  dns?: ResolverSettings;
  /** `--add-hosts`: lines added to /etc/hosts. Default: none. */
  extraHosts?: ExtraHost[];
  /** `run --label`: kept in the container's owner record. Default: none. */
  labels?: Record<string, string>;
  /** `U[:G]` names or ids; default: the image's User, else root. */
  user?: string;
  /** Allocate a terminal (-t); our stdin must be a tty. Default false. */
  tty?: boolean;
  /** Attach our stdin (-i). Default false (the container reads /dev/null). */
  stdin?: boolean;
  /** Where the container's output goes (a stream target gets it as it arrives). Default: inherited. */
  stdout?: StdioTarget;
  stderr?: StdioTarget;
  /** Called with each stdout line as it arrives (see RuncRunOptions.onStdoutLine). */
  onStdoutLine?: (line: string) => void;
  /**
   * Default true: while the container runs, our signals are forwarded to it (`run`). False: they stay
   * ours and the caller stops the container through `signal` (optimize).
   */
  forwardSignals?: boolean;
  /** Remove the container directory (upper dir included) when it exits (--rm). Default false: it is kept, stopped. */
  remove?: boolean;
  /** runc binary. Default `runc`. */
  runc?: string;
  /** Called with the spec before runc starts (optimize adjusts it; tests inspect it). */
  onSpec?: (spec: RuntimeSpec, paths: ContainerPaths) => void | Promise<void>;
  /** Called with runc's pid once it is spawned. */
  onSpawn?: (pid: number) => void;
  /** Called with the exit code once the container has exited, before anything is taken down (a detached run records it). */
  onExited?: (exitCode: number) => Promise<void>;
  /** Called once runc reports the container running, with its init's host pid (a detached run's readiness). */
  onStarted?: (pid: number) => void;
  /**
   * A file that gets the container's stdout and stderr (created 0600, appended to): a detached container's
   * log. runc writes it directly, so it keeps being written if we die. Overrides stdout/stderr.
   */
  log?: string;
  /**
   * Start the container again in its existing directory (kept writes, saved bundle) instead of claiming a
   * new one: the directory must exist with no live owner. Its layers and rootfs are mounted again.
   */
  restart?: boolean;
  /** Aborting cancels the setup and, once the container runs, kills it (unless `killOnAbort` is false). */
  signal?: AbortSignal;
  /**
   * Default true. `run` sets false: once the container runs, our SIGINT/SIGTERM are forwarded to it and
   * it decides how to end, rather than being SIGKILLed when the CLI's abort signal fires.
   */
  killOnAbort?: boolean;
}

/** Run a container to completion; returns its exit code (128+N when killed by signal N). */
export async function runInContainer(o: ContainerOptions): Promise<RuncRunResult> {
  if (o.tty && process.stdin.isTTY !== true) throw invalidArgument('-t needs a terminal: stdin is not a tty (drop -t, or run from a terminal)');
  if (o.cni && o.netHost) throw invalidArgument('--cni and --net-host exclude each other: a container has one network');
  const paths = containerPaths(o.root, o.id);
  const cniPlan = o.cni ? await planCni(o.cni, o.signal) : undefined; // a missing plugin is reported before anything is made
  const rootfsDir = o.rootfsDir !== undefined ? await checkRootfsDir(o.rootfsDir) : undefined;
  const owner = await ownRecord(o.ref, o.remove ?? false, o.labels);
  if (o.restart) await reclaimContainerDir(paths, owner);
  else await claimContainerDir(paths, owner);
  let failed = true;
  let spawned = false;
  let logFd: number | undefined;
  let started = false; // seen running (detached runs watch for it)
  const layers: LayerDirs = { lowerdirs: [] };
  try {
    const withRootfs = { ...o, ...(rootfsDir !== undefined ? { rootfsDir } : {}) };
    const spec = o.restart ? await remount(withRootfs, paths, layers) : await prepare(withRootfs, paths, layers);
    if (cniPlan) await attachCni(cniPlan, { netns: paths.netns, record: paths.cni, id: o.id, ...(o.signal ? { signal: o.signal } : {}) });
    await o.onSpec?.(spec, paths);
    // The spec holds the --env values (often secrets): readable by root only.
    await writeFile(join(paths.bundle, 'config.json'), JSON.stringify(spec, null, 2), { mode: 0o600 });
    if (o.log !== undefined) logFd = openLogFile(o.log);
    let runcDone = false;
    const result = await runcRun({
      stateDir: o.root.runc,
      bundle: paths.bundle,
      id: o.id,
      tty: o.tty ?? false,
      stdin: o.stdin || o.tty ? 'inherit' : 'ignore',
      stdout: logFd ?? o.stdout,
      stderr: logFd ?? o.stderr,
      onStdoutLine: o.onStdoutLine,
      forwardSignals: o.forwardSignals,
      runc: o.runc,
      signal: o.killOnAbort === false ? undefined : o.signal,
      onSpawn: (pid) => {
        spawned = true;
        o.onSpawn?.(pid);
        if (o.onStarted) {
          const onStarted = o.onStarted;
          void reportStarted(o, () => runcDone, (pid) => {
            started = true;
            onStarted(pid);
          });
        }
      },
    }).finally(() => (runcDone = true));
    failed = false;
    await o.onExited?.(result.exitCode);
    return result;
  } catch (e) {
    throw withContext({ op: 'run', subject: o.id }, e);
  } finally {
    if (logFd !== undefined) closeSync(logFd);
    // A container that never ran (setup or runc failed) leaves nothing (a restarted one keeps its
    // directory: it holds the writes of its earlier runs; one seen running keeps what it wrote). A teardown failure is reported only when it
    // is the first failure.
    const remove = o.remove === true || (failed && !o.restart && !started);
    await teardown(o, paths, layers, { remove, runc: o.runc, runcState: spawned }).catch((e: unknown) => {
      if (!failed) throw withContext({ op: 'clean up container', subject: o.id }, e);
    });
  }
}

/** runc state first, then the overlay, the layers under it, the CNI network and whatever is still mounted; the directory too when `remove`. */
async function teardown(o: ContainerOptions, paths: ContainerPaths, layers: LayerDirs, t: TeardownOptions & { remove: boolean }): Promise<void> {
  if (t.runcState) await runcDelete(o.root.runc, o.id, { force: true, runc: t.runc });
  if ((await mountsUnder(paths.rootfs)).length > 0) await unmount(paths.rootfs);
  await layers.release?.();
  await (t.remove ? removeContainer : stopContainer)(o.root, o.id, { runc: t.runc, runcState: false });
}

/**
 * Poll runc until the container runs, then call `onStarted` with its init's pid. A container already
 * stopped (or runc done) is left to the run's outcome: it ran and ended, or it never started (runc failed).
 */
async function reportStarted(o: ContainerOptions, done: () => boolean, onStarted: (pid: number) => void): Promise<void> {
  for (;;) {
    const state = await runcState(o.root.runc, o.id, o.runc).catch(() => undefined);
    if (state?.status === 'running' || state?.status === 'paused') return onStarted(state.pid);
    if (done() || state?.status === 'stopped') return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The layers, then the overlay over them at the container's rootfs (none with --rootfs DIR). */
async function mountRootfs(o: ContainerOptions, paths: ContainerPaths, layers: LayerDirs): Promise<void> {
  Object.assign(layers, typeof o.lowerdirs === 'function' ? await o.lowerdirs(paths) : { lowerdirs: o.lowerdirs });
  await checkBindSources(o.mounts ?? []);
  if (o.rootfsDir !== undefined) return;
  await mountOverlay({ lowerdirs: layers.lowerdirs, upperdir: paths.upper, workdir: paths.work, target: paths.rootfs, linkDir: paths.dir, signal: o.signal });
}

/** A restart: the layers and rootfs mounted again under the saved bundle, whose spec is reused as it is. */
async function remount(o: ContainerOptions, paths: ContainerPaths, layers: LayerDirs): Promise<RuntimeSpec> {
  const text = await readFile(join(paths.bundle, 'config.json'), 'utf8').catch(() => {
    throw notFound(`container ${o.id} has no saved bundle (${paths.bundle}/config.json); it cannot be started again`);
  });
  await mountRootfs(o, paths, layers);
  return JSON.parse(text) as RuntimeSpec;
}

async function prepare(o: ContainerOptions, paths: ContainerPaths, layers: LayerDirs): Promise<RuntimeSpec> {
  const signal = o.signal;
  await mountRootfs(o, paths, layers);
  const rootfs = o.rootfsDir ?? paths.rootfs;
  const read = layers.readImageFile ?? ((path: string) => readFileInRoot(rootfs, path, { signal }));
  const hostname = o.id.slice(0, 63);
  // at once: each is a few round trips to the thread pool (or to a lazy layer), ~10 ms in a row on busy cores
  const [passwd, group, etc] = await settleAll([
    read('/etc/passwd'),
    read('/etc/group'),
    mkdir(paths.bundle, { recursive: true, mode: 0o700 }).then(() => writeEtcFiles(paths.bundle, { hostname, netHost: o.netHost, ...(o.dns ? { dns: o.dns } : {}), ...(o.extraHosts ? { extraHosts: o.extraHosts } : {}), signal })),
  ]);
  const user = resolveUser(o.user ?? o.image?.User ?? '', { passwd, group });
  const { args, entrypoint, cmd, env, cwd, mounts, netHost, tty, privileged, readonlyRootfs, capAdd, capDrop, memoryLimit, cpus } = o;
  return buildSpec({
    id: o.id, rootfs, image: o.image, user, etc, hostname, args, entrypoint, cmd, env, cwd, mounts, netHost, terminal: tty,
    privileged, readonlyRootfs, capAdd, capDrop, memoryLimit, cpus,
    ...(o.cni ? { netns: paths.netns } : {}),
    ...(privileged || capAdd?.includes('ALL') ? { host: await hostFacts(privileged === true) } : {}),
  });
}

/** What `--privileged` and `--cap-add ALL` give: the kernel's capabilities (and, privileged, the host's devices). */
async function hostFacts(privileged: boolean): Promise<HostFacts> {
  return { capabilities: await hostCapabilities(), devices: privileged ? await hostDevices() : [] };
}

/** `--rootfs DIR`: an existing directory, taken as an absolute path. */
async function checkRootfsDir(dir: string): Promise<string> {
  // followed through symlinks: a link to / must not make the host's root a writable container root
  const abs = await realpath(resolve(dir)).catch(() => {
    throw notFound(`rootfs directory ${resolve(dir)} does not exist`);
  });
  const st = await stat(abs);
  if (!st.isDirectory()) throw invalidArgument(`rootfs ${abs} is not a directory`);
  if (abs === '/') throw invalidArgument("rootfs / is the host's own root: give a directory holding a container's root filesystem");
  return abs;
}

/** runc's own error for a missing bind source comes late and verbose; say it first, naming the flag value. */
async function checkBindSources(mounts: SpecMount[]): Promise<void> {
  for (const m of mounts) {
    const bind = m.type === 'bind' || (m.options ?? []).some((x) => x === 'bind' || x === 'rbind');
    if (!bind || m.source === undefined) continue;
    if (!isAbsolute(m.source)) throw invalidArgument(`mount source ${JSON.stringify(m.source)} must be an absolute path`);
    await stat(m.source).catch(() => {
      throw notFound(`mount source ${m.source} does not exist`);
    });
  }
}
