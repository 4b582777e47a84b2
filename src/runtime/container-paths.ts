// Where one container lives under the tool's root: `<root>/containers/<id>/{upper,work,rootfs,bundle,netns}`
// (runc's state is under `<root>/runc`: store/root-layout.ts).
import { join } from 'node:path';
import { invalidArgument } from '../errors.js';
import type { RootLayout } from '../store/root-layout.js';

/** The directories and files of one container. */
export interface ContainerPaths {
  /** `<root>/containers/<id>`; also the cwd of the overlay mount (its `l/` holds the lowerdir links). */
  dir: string;
  upper: string;
  work: string;
  rootfs: string;
  /** The runc bundle: config.json and the generated etc files. */
  bundle: string;
  /** Mount points of this container's lazy layers (stargz snapshotter). */
  layers: string;
  /** The owner record (owner.ts). */
  owner: string;
  /**
   * The lock taken by whoever changes the owner of an existing container or takes it down (a restart, a
   * removal, the cleanup of a dead owner's leftovers): `<root>/containers/.lock-<id>`, beside the directory
   * so that removing the directory leaves it alone.
   */
  lock: string;
  /** The exit status of the container's last run (task-exit.ts). */
  exit: string;
  /** How a detached container was started, for listing it and starting it again (detached-record.ts). */
  detached: string;
  /** A detached container's output, unless `--log-uri` put it elsewhere. */
  log: string;
  /** `--cni`: the file the container's network namespace is bind-mounted on, and what was attached (cni.ts). */
  netns: string;
  cni: string;
}

/** runc accepts these ids; we also bound the length so paths and hostnames stay short. */
const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

/** Throw InvalidArgument unless `id` is a valid container id. */
export function checkContainerId(id: string): string {
  if (!ID_PATTERN.test(id)) {
    throw invalidArgument(`invalid container ID ${JSON.stringify(id)}: use 1-128 of [A-Za-z0-9_.+-], starting with a letter or digit`);
  }
  return id;
}

/** The paths of container `id` of a root. */
export function containerPaths(root: RootLayout, id: string): ContainerPaths {
  const dir = join(root.containers, checkContainerId(id));
  return {
    dir,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    rootfs: join(dir, 'rootfs'),
    bundle: join(dir, 'bundle'),
    layers: join(dir, 'layers'),
    owner: join(dir, 'owner.json'),
    lock: join(root.containers, `.lock-${id}`),
    exit: join(dir, 'exit.json'),
    detached: join(dir, 'detached.json'),
    log: join(dir, 'log'),
    netns: join(dir, 'netns'),
    cni: join(dir, 'cni.json'),
  };
}
