// A /dev/fuse reader thread: blocking readSync on the shared device fd, each request copied into its own
// ArrayBuffer and transferred to the main thread. Blocking reads in a worker (not async fs.read) keep the
// libuv threadpool free for the process's own file and zlib work. Ends when the connection goes away.

import { readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** What the main thread passes in workerData. */
export interface ReaderData {
  fd: number;
  bufferSize: number;
}

/** Messages to the main thread: a request, or the end of the loop with its reason. */
export type ReaderMessage = { type: 'request'; data: ArrayBuffer } | { type: 'end'; reason: string; error?: string };

const { fd, bufferSize } = workerData as ReaderData;
const port = parentPort!;
const buf = Buffer.allocUnsafe(bufferSize);

/** Errors after which the next read may succeed: interrupted or already-answered requests. */
const transient = new Set(['ENOENT', 'EINTR', 'EAGAIN']);

function loop(): void {
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, bufferSize, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (transient.has(code)) continue;
      const end: ReaderMessage = code === 'ENODEV' || code === 'EBADF'
        ? { type: 'end', reason: code }
        : { type: 'end', reason: 'error', error: `${code} ${(e as Error).message}` };
      port.postMessage(end);
      return;
    }
    if (n === 0) {
      port.postMessage({ type: 'end', reason: 'EOF' } satisfies ReaderMessage);
      return;
    }
    const data = new ArrayBuffer(n);
    new Uint8Array(data).set(buf.subarray(0, n));
    port.postMessage({ type: 'request', data } satisfies ReaderMessage, [data]);
  }
}

loop();
