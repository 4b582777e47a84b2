// Telling systemd that a Type=notify service is ready. Node cannot send on a unix datagram socket, so the
// message goes through `systemd-notify --ready` (the unit needs NotifyAccess=all, since the sender is a
// child). Without $NOTIFY_SOCKET (not started by systemd) nothing is done.
import { execFile } from 'node:child_process';

/** Send READY=1 when started by systemd; resolves to why it could not (undefined when sent or not needed). */
export function notifySystemdReady(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (!env['NOTIFY_SOCKET']) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], { env, timeout: 10_000 }, (e, _out, stderr) =>
      resolve(e ? `systemd-notify --ready failed: ${String(stderr).trim() || e.message}` : undefined),
    );
  });
}
