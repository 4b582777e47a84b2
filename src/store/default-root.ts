// Where ctr-remote keeps its state when `--root` is not given (what is under it: root-layout.ts).
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

/** The default `--root`: /var/lib/ctr-remote for root, else $XDG_DATA_HOME/ctr-remote (~/.local/share/ctr-remote). */
export function defaultRoot(env: NodeJS.ProcessEnv = process.env, uid: number | undefined = process.getuid?.()): string {
  if (uid === 0) return '/var/lib/ctr-remote';
  const xdg = env['XDG_DATA_HOME'];
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.local', 'share');
  return join(base, 'ctr-remote');
}
