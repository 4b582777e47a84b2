// How a detached container was started (`detached.json` in its directory): the image, the output file and
// the layer settings that `tasks start` needs to mount its layers again. No secret goes in it: registry
// credentials are given again (or come from the Docker config) when it is started again.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../host/atomic-file.js';
import type { Platform } from '../oci/types.js';
import type { CniOptions } from './cni.js';
import type { ContainerPaths } from './container-paths.js';

/** The record of a detached container. */
export interface DetachedRecord {
  /** The image reference as stored. */
  image: string;
  /** The manifest it named when the container was made (a restart refuses another). */
  manifestDigest?: string;
  /** 'stargz' (lazy layers) or 'overlayfs' (unpacked layers). */
  snapshotter: string;
  /** Where its output goes. */
  log: string;
  /** The platform --platform chose, if it did. */
  platform?: Platform;
  noBackgroundFetch?: boolean;
  cacheMaxBytes?: number;
  /** `--cni`: the network is attached again at each start. */
  cni?: CniOptions;
  /** `--rootfs`: `image` is a directory (such a container is not started again: its command is not kept). */
  rootfs?: boolean;
  createdAt: string;
}

/** Save the record. */
export async function writeDetachedRecord(paths: ContainerPaths, record: DetachedRecord): Promise<void> {
  await writeFileAtomic(paths.detached, JSON.stringify(record), { mode: 0o600 });
}

/** The record, or undefined for a container not started detached (or an unreadable record). */
export async function readDetachedRecord(paths: ContainerPaths): Promise<DetachedRecord | undefined> {
  try {
    const v = JSON.parse(await readFile(paths.detached, 'utf8')) as DetachedRecord;
    return typeof v.image === 'string' && typeof v.log === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
