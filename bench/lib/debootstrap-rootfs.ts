// A Debian minbase root filesystem made by debootstrap from the configured apt mirror, cached under the
// bench cache directory so reruns skip the download (about a minute on 100 Mbit/s the first time).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { aptMirror } from './apt-mirror.js';

const run = promisify(execFile);

export interface RootfsOptions {
  /** Debian suite. Default 'bookworm'. */
  suite?: string;
  /** Extra packages (`--include`). Default ['python3']. */
  include?: string[];
  /** Mirror URL. Default: the one apt uses (aptMirror). */
  mirror?: string;
  /** Progress lines. Default: none. */
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** Path of a cached `debootstrap --variant=minbase` tree under `cacheDir`, creating it when missing (root only). */
export async function debootstrapRootfs(cacheDir: string, o: RootfsOptions = {}): Promise<string> {
  const suite = o.suite ?? 'bookworm';
  const include = o.include ?? ['python3'];
  const dir = join(cacheDir, 'debootstrap', `${suite}-${include.join('-') || 'minbase'}`);
  const marker = `${dir}.complete`;
  if (existsSync(marker)) return dir;
  if (process.getuid?.() !== 0) throw new Error(`debootstrap of ${suite} needs root (it chroots and runs dpkg); cache ${dir} is empty`);
  const mirror = o.mirror ?? aptMirror(suite);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(join(cacheDir, 'debootstrap'), { recursive: true });
  o.log?.(`debootstrap --variant=minbase --include=${include.join(',')} ${suite} ${partial} ${mirror}`);
  await run('debootstrap', ['--variant=minbase', ...(include.length ? [`--include=${include.join(',')}`] : []), suite, partial, mirror], {
    maxBuffer: 64 << 20,
    signal: o.signal,
  });
  // apt's package lists and downloaded .debs are build leftovers no image ships with.
  for (const leftover of ['var/lib/apt/lists', 'var/cache/apt/archives', 'debootstrap']) rmSync(join(partial, leftover), { recursive: true, force: true });
  mkdirSync(join(partial, 'var/lib/apt/lists'), { recursive: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  writeFileSync(marker, `${new Date().toISOString()} ${mirror}\n`);
  return dir;
}
