// Reading /dev/fuse on the event loop: the connection's fd is polled by libuv (epoll) like a pipe, so a mount
// costs no thread and no worker isolate (a reader worker costs ~40 ms to start and ~8.5 MiB resident; a node
// may serve hundreds of layers). Node has no public API that polls an arbitrary fd, so the fd is opened as a
// libuv pipe through `process.binding('pipe_wrap')` (on Node's allow-list; deprecated in the docs only, DEP0111):
// uv_pipe_open makes the fd non-blocking and epoll then reports each queued request. Each read(2) of
// /dev/fuse returns exactly one whole request; the stream may still hand several reads over as one chunk,
// so requests are split by the length in their header. When this is unavailable, the device loop falls back
// to reader workers (device-loop.ts).
import { readSync } from 'node:fs';
import { Socket } from 'node:net';
import { DEVICE_READ_BUFFER_SIZE } from './protocol.js';

/** The pipe binding's shape, as much of it as is used here. */
interface PipeBinding {
  Pipe: new (type: number) => { open(fd: number): number };
  constants: { SOCKET: number };
}

/** Handlers of a device stream. */
export interface DeviceStreamHandlers {
  /** One request (its own memory: it stays valid after the call). */
  onRequest(req: Buffer): void;
  /** The stream ended: 'ENODEV' when the kernel closed the connection (unmounted), else the error. */
  onEnd(reason: 'ENODEV' | Error): void;
}

/** A running device stream: `close()` stops reading and closes the fd (which the stream owns). */
export interface DeviceStream {
  close(): void;
  /**
   * Wait up to `us` microseconds on this thread, reading without sleeping, for the next request to this
   * stream or to another of the process in the same burst (burst-spin.ts says when); true when one came, and
   * was handed to its stream's onRequest before this returns.
   */
  spin(us: number): boolean;
}

let binding: PipeBinding | null | undefined;

/**
 * What spin() reads into, one for every stream of the process (a wait never runs inside another, and a
 * request is copied out before it is handed over); the kernel refuses a read shorter than its largest request.
 */
let spinBuf: Buffer | undefined;

/** A stream as a wait sees it. */
interface Waitable {
  /** When its last request came (performance.now()). */
  activeMs: number;
  /** Open, and no partial request held (never with /dev/fuse, whose reads are whole requests). */
  ready(): boolean;
  /** One non-blocking read: its length, -1 when nothing is queued (EAGAIN), 0 when the device ended or failed (libuv sees that too). */
  readNow(buf: Buffer): number;
  /** Hand a read over as the stream's own 'data' would. */
  deliver(chunk: Buffer): void;
}

/** The open streams of this process. */
const live = new Set<Waitable>();

/** Another stream is watched by a wait when its last request came this recently: it is in the same burst. */
const RECENT_MS = 2;

/**
 * Wait up to `us` on `first` and on every other stream in the same burst: a lookup through overlayfs goes
 * from one layer's mount to the next, so the request after a reply is often another mount's (three layers
 * under overlayfs: a walk in 0.43-0.51 s instead of 0.87-0.97 s when each wait watched its own mount only;
 * docs/DECISIONS.md). The first request any of them gets is handed over.
 */
function waitAny(first: Waitable, us: number): boolean {
  const now = performance.now();
  const watched = [first];
  for (const w of live) if (w !== first && now - w.activeMs <= RECENT_MS && w.ready()) watched.push(w);
  spinBuf ??= Buffer.allocUnsafe(DEVICE_READ_BUFFER_SIZE);
  const deadline = now + us / 1000;
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0; // each empty read throws EAGAIN: without a stack to capture, that costs about half
  let n = -1;
  let got: Waitable | undefined;
  try {
    do {
      for (const w of watched) {
        n = w.readNow(spinBuf);
        if (n >= 0) {
          got = w;
          break;
        }
      }
    } while (!got && performance.now() < deadline);
  } finally {
    Error.stackTraceLimit = limit; // restored before the request is handed over: its handler's errors keep their stacks
  }
  if (!got || n <= 0) return false;
  got.deliver(Buffer.from(spinBuf.subarray(0, n)));
  return true;
}

/** The pipe binding, or null when this Node does not offer it. */
function pipeBinding(): PipeBinding | null {
  if (binding !== undefined) return binding;
  try {
    const b = (process as unknown as { binding(name: string): unknown }).binding('pipe_wrap') as PipeBinding;
    binding = typeof b?.Pipe === 'function' && typeof b.constants?.SOCKET === 'number' ? b : null;
  } catch {
    binding = null;
  }
  return binding;
}

/**
 * Read requests from `fd` (an open, mounted /dev/fuse connection) on the event loop; from now on the stream
 * owns `fd` and closes it when it ends. Returns undefined (the fd untouched) when the fd cannot be polled.
 */
export function openDeviceStream(fd: number, handlers: DeviceStreamHandlers): DeviceStream | undefined {
  const b = pipeBinding();
  if (!b) return undefined;
  const handle = new b.Pipe(b.constants.SOCKET);
  if (handle.open(fd) !== 0) return undefined;
  const socket = new Socket({ handle, readable: true, writable: false } as ConstructorParameters<typeof Socket>[0]);
  let pending: Buffer | undefined;
  let ended = false;
  const me: Waitable = {
    activeMs: -Infinity,
    ready: () => !ended && !pending,
    readNow: (buf: Buffer): number => {
      try {
        return readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EAGAIN' ? -1 : 0;
      }
    },
    deliver: (chunk) => onData(chunk),
  };
  const end = (reason: 'ENODEV' | Error) => {
    if (ended) return;
    ended = true;
    live.delete(me);
    socket.destroy();
    handlers.onEnd(reason);
  };
  const onData = (chunk: Buffer) => {
    me.activeMs = performance.now();
    let data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    while (data.length >= 4) {
      const len = data.readUInt32LE(0);
      if (len < 40) return end(new Error(`reading /dev/fuse: a request of ${len} bytes, shorter than its header`));
      if (data.length < len) break;
      handlers.onRequest(data.subarray(0, len));
      data = data.subarray(len);
    }
    if (data.length > 0) pending = data;
  };
  socket.on('data', onData);
  live.add(me);
  const spin = (us: number): boolean => me.ready() && waitAny(me, us);
  socket.on('error', (e: NodeJS.ErrnoException) => end(e.code === 'ENODEV' ? 'ENODEV' : new Error(`reading /dev/fuse: ${e.code ?? ''} ${e.message}`)));
  socket.on('end', () => end('ENODEV'));
  socket.on('close', () => end('ENODEV'));
  return { close: () => end('ENODEV'), spin };
}
