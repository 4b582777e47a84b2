// A file's bytes as an async iterable of Buffers, opened only when iteration starts and closed when it
// stops. (A ReadStream handed out directly opens at once: if nobody iterates it, its fd leaks, and an open
// error or an abort is emitted as an 'error' event with no listener, which crashes the process.)
import { createReadStream } from 'node:fs';

/** The chunks (1 MiB pieces) of the file at `path`; throws at iteration when `signal` aborts. */
export async function* fileChunks(path: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  signal?.throwIfAborted();
  const rs = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of rs) {
      signal?.throwIfAborted();
      yield chunk as Buffer;
    }
  } finally {
    rs.destroy();
  }
}
