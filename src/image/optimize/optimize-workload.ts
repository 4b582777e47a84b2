// optimize's workload: a temporary runc container over the recorded layers (runtime/container.ts) that
// runs for at most `period`, ends earlier when its process exits or a stdout line contains `waitOnLine`
// (or, with `waitOnSignal`, runs until its process exits or we get SIGINT), and is then killed and torn
// down (overlay, layer mounts, CNI network, runc state, container directory) on every path.
import { CtrError, invalidArgument } from '../../errors.js';
import { claimSignal } from '../../host/signal-listeners.js';
import type { ContainerPaths } from '../../runtime/container-paths.js';
import { runInContainer, type ContainerOptions } from '../../runtime/container.js';
import type { StagedMounts } from './optimize-mounts.js';

/** What to run and how (optimize's workload flags); the process settings are runInContainer's. */
export interface WorkloadOptions
  extends Pick<ContainerOptions, 'root' | 'id' | 'ref' | 'image' | 'entrypoint' | 'cmd' | 'env' | 'cwd' | 'user' | 'mounts' | 'netHost' | 'tty' | 'stdin' | 'runc' | 'signal'>,
    Pick<ContainerOptions, 'cni' | 'dns' | 'extraHosts'> {
  /** Mounts the layers under `paths.layers` (so a crashed run's cleanup finds them). */
  layers: (paths: ContainerPaths) => Promise<StagedMounts>;
  /** Longest run in ms. */
  periodMs: number;
  /** End once a stdout line contains this text. Default: no watch. */
  waitOnLine?: string;
  /**
   * `--wait-on-signal`: no period; the workload runs until it exits or this process gets SIGINT, which
   * then ends the recording (and not the command: the conversion follows). Default false.
   */
  waitOnSignal?: boolean;
  /** Where the container's stdout and stderr are shown. Default: ours. */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  /** Called once the workload process has been spawned: recording starts here. */
  onStart?: () => void;
}

/** Why the workload ended. */
export interface WorkloadResult {
  ended: 'exit' | 'period' | 'line' | 'signal';
  /** Exit code when the process ended on its own. */
  exitCode?: number;
}

/** Run the workload (see module comment). */
export async function runWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  if (o.tty && !o.stdin) throw invalidArgument('-t needs -i (a terminal reads stdin)');
  if (o.waitOnSignal && o.tty) throw invalidArgument('--wait-on-signal cannot be used with -t (the terminal would take the Ctrl+C)');
  const stopper = new AbortController();
  let ended: WorkloadResult['ended'] = 'exit';
  const stop = (why: WorkloadResult['ended']): void => {
    if (ended !== 'exit') return;
    ended = why;
    stopper.abort();
  };
  let timer: NodeJS.Timeout | undefined;
  let releaseSignal = (): void => {};
  const watch = o.waitOnSignal ? undefined : o.waitOnLine;
  try {
    const r = await runInContainer({
      root: o.root, id: o.id, ref: o.ref, lowerdirs: o.layers, image: o.image, remove: true,
      entrypoint: o.entrypoint, cmd: o.cmd, env: o.env, cwd: o.cwd, user: o.user, mounts: o.mounts,
      netHost: o.netHost, tty: o.tty, stdin: o.stdin, runc: o.runc, cni: o.cni, dns: o.dns, extraHosts: o.extraHosts,
      stdout: o.stdout ?? process.stdout,
      stderr: o.stderr ?? process.stderr,
      ...(watch !== undefined ? { onStdoutLine: (line: string) => line.includes(watch) && stop('line') } : {}),
      forwardSignals: false,
      signal: o.signal ? AbortSignal.any([o.signal, stopper.signal]) : stopper.signal,
      onSpawn: () => {
        if (o.waitOnSignal) releaseSignal = claimSignal('SIGINT', () => stop('signal'));
        else timer = setTimeout(() => stop('period'), o.periodMs);
        o.onStart?.();
      },
    });
    if (o.signal?.aborted) throw new CtrError('Aborted', 'optimize was interrupted; the workload was stopped', { cause: o.signal.reason });
    return ended === 'exit' ? { ended, exitCode: r.exitCode } : { ended };
  } catch (e) {
    if (o.signal?.aborted && !(e instanceof CtrError && e.code === 'Aborted')) {
      throw new CtrError('Aborted', 'optimize was interrupted; the workload was stopped', { cause: e });
    }
    throw e;
  } finally {
    clearTimeout(timer);
    releaseSignal();
  }
}
