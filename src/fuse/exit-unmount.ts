// Process-wide registry of live FUSE mounts, unmounted on exit, SIGINT and SIGTERM so that no mount is left
// behind with a dead server ("Transport endpoint is not connected").

import { unmountSync } from './unmount.js';

const live = new Map<string, () => Promise<void>>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;
let installed = false;

/** Track a live mount; its unmount function is called on SIGINT/SIGTERM, and umount runs on exit. */
export function registerLiveMount(dir: string, unmount: () => Promise<void>): void {
  live.set(dir, unmount);
  if (!installed) install();
}

/** Stop tracking a mount (it has ended). */
export function unregisterLiveMount(dir: string): void {
  live.delete(dir);
  if (live.size === 0 && installed) uninstall();
}

/** Directories of mounts served by this process. */
export function liveMounts(): string[] {
  return [...live.keys()];
}

function onExit(): void {
  for (const dir of live.keys()) unmountSync(dir);
}

/** Unmount everything; then, if nobody else handles the signal, die of it as the default action would. */
async function onSignal(signal: NodeJS.Signals): Promise<void> {
  const othersHandle = process.listenerCount(signal) > 1;
  await Promise.allSettled([...live.values()].map((u) => u()));
  if (othersHandle) return;
  if (installed) uninstall();
  process.kill(process.pid, signal);
}

const handlers = new Map(SIGNALS.map((s) => [s, () => void onSignal(s)] as const));

function install(): void {
  installed = true;
  process.on('exit', onExit);
  for (const [s, h] of handlers) process.on(s, h);
}

function uninstall(): void {
  installed = false;
  process.off('exit', onExit);
  for (const [s, h] of handlers) process.off(s, h);
}
