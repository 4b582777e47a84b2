// `ctr-remote run [flags] REF ID [CMD ARGS...]`: run a container from a stored image in the foreground
// (root). Flags follow `ctr run`; CMD ARGS replace the image's Entrypoint and Cmd, as there. The
// container's exit code becomes ours; SIGINT/SIGTERM are forwarded to it. With -d it runs detached under
// a supervisor (image/detached-run.ts) and the command returns once it runs; `tasks` and `containers`
// manage it then.
// Parsing stops at REF, as `ctr run`'s does: options after it belong to the container (`run img id ls -t`
// passes -t to ls); run's own (and the global) options go before REF. A `--` right after ID is dropped
// (it was needed before parsing stopped at REF; no command is named `--`).
import { Command, Option } from 'commander';
import type { RunOptions, Snapshotter } from '../../image/run.js';
import type { CliContext } from '../cli-context.js';
import { printErr } from '../cli-io.js';
import { addContainerFlags, checkNetworkFlags, cniFlagsWarning, containerOptions } from '../container-flags.js';
import { decimalArg, intArg } from '../number-flags.js';
import { parseCapability } from '../../runtime/capabilities.js';
import { invalidArgument } from '../../errors.js';
import { addPlatformFlag } from '../platform-flags.js';
import { addCredentialFlags, addReadTimeoutFlag, addTlsAndHostsFlags, registryOptions } from '../registry-flags.js';
import { logUriArg } from '../log-uri.js';
import { flagParser, usageError } from '../usage-error.js';

/** The run command. */
export function runCommand(ctx: CliContext): Command {
  const cmd = new Command('run')
    .description('run a container from an image in the store, in the foreground (root)')
    .argument('<ref>', 'image reference in the store (pull or rpull it first)')
    .argument('<id>', 'container ID')
    .argument('[args...]', 'command and arguments; replace the image Entrypoint and Cmd')
    .passThroughOptions()
    .option('--rm', 'remove the container (and its writes) when it exits')
    .option('-d, --detach', 'return once the container runs; a supervisor serves its lazy layers, keeps its output and exit status (see tasks, containers)')
    .option('--log-uri <uri>', 'detached: file:///path (or /path) for the container output (default: <root>/containers/ID/log)', logUriArg)
    .option('-t, --tty', 'allocate a terminal (stdin must be a tty)')
    .option('-i, --interactive', 'attach stdin')
    .addOption(new Option('--snapshotter <name>', 'how layers are provided (default: stargz when rpulled, else overlayfs)').choices(['stargz', 'overlayfs']));
  addContainerFlags(cmd);
  addPrivilegeFlags(cmd);
  addPlatformFlag(cmd, "platform to run: from a multi-platform image, or to run a single-platform image built for another (default: this host's; linux/amd64 hosts also run linux/386)");
  cmd
    .option('--no-background-fetch', 'lazy layers: fetch only what is read (and the prefetch region)')
    .option('--cache-max-bytes <n>', 'lazy layers: bound of the shared chunk cache in bytes (default: min(10 GiB, half the free disk))', intArg([1, Number.MAX_SAFE_INTEGER]))
    .option('--plain-http', 'lazy layers: use plain HTTP (automatic for localhost and 127.0.0.1)')
    .option('-k, --skip-verify', 'lazy layers: skip TLS certificate verification');
  addTlsAndHostsFlags(cmd, 'lazy layers: ');
  addReadTimeoutFlag(cmd, 'lazy layers: a registry response that sends nothing for this long has stalled and is retried (default 30)');
  // -u is the registry user here; --user stays the container's user (as on image optimize)
  addCredentialFlags(cmd, '--registry-user');
  cmd.option('--refresh <token>', 'lazy layers: OAuth2 refresh token for the registry\'s authorization server (instead of -u)');
  return cmd.action((ref: string, id: string, args: string[], flags, self: Command) =>
    ctx.run(self, 'run', id, async () => {
      for (const a of [ref, id]) if (a.startsWith('-')) throw usageError(`unknown option ${a} (see 'ctr-remote run --help')`);
      if (flags.detach && (flags.tty || flags.interactive)) throw usageError('-d cannot be used with -t or -i: a detached container has no terminal or stdin (use tasks exec -t)');
      if (flags.logUri !== undefined && !flags.detach) throw usageError('--log-uri needs -d (a foreground container writes to this terminal)');
      checkNetworkFlags(flags);
      const cniWarning = cniFlagsWarning(flags);
      if (cniWarning) printErr(ctx.io, `ctr-remote: warning: ${cniWarning}`);
      const options: RunOptions = {
        args: args[0] === '--' ? args.slice(1) : args,
        remove: flags.rm === true,
        tty: flags.tty === true,
        stdin: flags.interactive === true,
        snapshotter: flags.snapshotter as Snapshotter | undefined,
        ...containerOptions(flags),
        ...privilegeOptions(flags),
        platform: flags.platform,
        noBackgroundFetch: flags.backgroundFetch === false,
        ...(flags.cacheMaxBytes !== undefined ? { cacheMaxBytes: flags.cacheMaxBytes } : {}),
        registry: await registryOptions({
          plainHttp: flags.plainHttp, skipVerify: flags.skipVerify, tlscacert: flags.tlscacert, readTimeout: flags.readTimeout,
          tlscert: flags.tlscert, tlskey: flags.tlskey, hostsDir: flags.hostsDir, httpDump: flags.httpDump, refresh: flags.refresh,
          user: flags.registryUser, passwordStdin: flags.passwordStdin,
        }, ctx.io, ctx.debugLog(self), ctx.signal, flags.interactive === true),
        onWarning: (line: string) => printErr(ctx.io, `ctr-remote: warning: ${line}`),
        killOnAbort: false,
        signal: ctx.signal,
      };
      if (flags.detach) {
        const { runDetached } = await ctx.load(() => import('../../image/detached-run.js'));
        await runDetached(await ctx.context(self), ref, id, { ...options, ...(flags.logUri !== undefined ? { log: flags.logUri as string } : {}) });
        return;
      }
      const { runContainer } = await ctx.load(() => import('../../image/run.js'));
      const result = await runContainer(await ctx.context(self), ref, id, options);
      ctx.exitCode = result.exitCode;
    }),
  );
}

/** run's own container flags, as `ctr run` has them (image optimize never takes them: its workload stays unprivileged). */
function addPrivilegeFlags(cmd: Command): void {
  const caps = flagParser((value: string, previous: string[] = []): string[] => [...previous, parseCapability(value)]);
  cmd
    .option('--privileged', "run privileged: every capability, the host's devices, no masked /proc paths, writable /sys (your explicit choice; never taken from an image)")
    .option('--read-only', 'mount the container root filesystem read-only')
    .option('--cap-add <cap>', 'add a capability: CAP_NET_ADMIN or NET_ADMIN; ALL for every one (repeatable)', caps)
    .option('--cap-drop <cap>', 'drop a capability: CAP_NET_RAW or NET_RAW; ALL for every one not added by --cap-add (repeatable)', caps)
    .option('--memory-limit <bytes>', 'memory limit of the container in bytes (default: 0, no limit)', intArg([0, Number.MAX_SAFE_INTEGER]))
    .option('--cpus <cpus>', 'CPU limit as a CFS quota, e.g. 1.5 (default: 0, no limit)', decimalArg([0, 4096], 'CPUs'))
    .option('--label <K=V>', "label of the container, kept in its record (<root>/containers/<id>/owner.json) (repeatable)", flagParser(collectLabel))
    .option('--rootfs', 'REF is a root filesystem directory used as it is (writes land in it), not an image; the command must be given');
}

/** The parsed values of the privilege flags. */
interface PrivilegeFlags {
  privileged?: boolean;
  readOnly?: boolean;
  capAdd?: string[];
  capDrop?: string[];
  memoryLimit?: number;
  cpus?: number;
  label?: Record<string, string>;
  rootfs?: boolean;
}

/** The privilege flags as runContainer options (only those given). */
function privilegeOptions(f: PrivilegeFlags): Pick<RunOptions, 'privileged' | 'readonlyRootfs' | 'capAdd' | 'capDrop' | 'memoryLimit' | 'cpus' | 'labels' | 'rootfs'> {
  const out: ReturnType<typeof privilegeOptions> = {};
  if (f.privileged === true) out.privileged = true;
  if (f.readOnly === true) out.readonlyRootfs = true;
  if (f.capAdd) out.capAdd = f.capAdd;
  if (f.capDrop) out.capDrop = f.capDrop;
  if (f.memoryLimit !== undefined && f.memoryLimit > 0) out.memoryLimit = f.memoryLimit;
  if (f.cpus !== undefined && f.cpus > 0) out.cpus = f.cpus;
  if (f.label !== undefined) out.labels = f.label;
  if (f.rootfs === true) out.rootfs = true;
  return out;
}

/** One `--label K=V` (a bare K is an empty value, as ctr). */
function collectLabel(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === '') throw invalidArgument(`label ${JSON.stringify(value)} has no key (expected K=V)`);
  return { ...previous, [key]: eq < 0 ? '' : value.slice(eq + 1) };
}
