// The flags that shape a container's process, shared by `run` and `image optimize` (whose workload is a
// container): --env, --env-file, --cwd, --user, --mount, --net-host. --env and --mount values are
// checked while commander parses (a bad one is a usage error, exit 2); the env file is read by the command.
import type { Command } from 'commander';
import { checkEnvFlag } from '../runtime/env.js';
import { parseMountFlag } from '../runtime/mount-flag.js';
import { flagParser } from './usage-error.js';

/** The parsed values of the container flags. */
export interface ContainerFlags {
  env?: string[];
  envFile?: string;
  cwd?: string;
  user?: string;
  mount?: string[];
  netHost?: boolean;
}

/** A repeatable flag's values, each checked by `check`. */
const collect = (check: (value: string) => unknown) => flagParser((value: string, previous: string[] = []): string[] => (check(value), [...previous, value]));

/** Add the container flags to a command. */
export function addContainerFlags(cmd: Command): Command {
  return cmd
    .option('--env <K=V>', 'set an environment variable (repeatable; K alone unsets)', collect(checkEnvFlag))
    .option('--env-file <file>', 'read K=V lines from a file')
    .option('--cwd <dir>', 'working directory (default: the image WorkingDir)')
    .option('--user <user[:group]>', 'user and group, names or ids (default: the image User)')
    .option('--mount <spec>', 'mount, e.g. type=bind,source=/s,destination=/d,options=ro:rbind (repeatable)', collect(parseMountFlag))
    .option('--net-host', 'share the host network (default: a private network namespace with loopback only)');
}

/** The container flags as the options runContainer and optimizeImage take. */
export function containerOptions(f: ContainerFlags): { env: string[]; envFile?: string; cwd?: string; user?: string; mounts: string[]; netHost: boolean } {
  return {
    env: f.env ?? [],
    ...(f.envFile ? { envFile: f.envFile } : {}),
    ...(f.cwd ? { cwd: f.cwd } : {}),
    ...(f.user ? { user: f.user } : {}),
    mounts: f.mount ?? [],
    netHost: f.netHost === true,
  };
}
