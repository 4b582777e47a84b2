// worker_threads entry of the compression pool: compresses one payload per message into one gzip member
// (or one zstd frame) and posts it back. Spawned by gzip-pool.ts.
import { parentPort } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';

interface Job {
  id: number;
  codec: 'gzip' | 'zstd';
  level: number;
  data: Uint8Array;
}

const port = parentPort;
if (!port) throw new Error('gzip-pool.worker must run in a worker thread');

let zstd: typeof import('./zstd-frame.js') | undefined;

async function run(job: Job): Promise<Buffer> {
  if (job.codec === 'gzip') return gzipSync(job.data, { level: job.level });
  zstd ??= await import('./zstd-frame.js');
  return zstd.compressFrame(job.data, job.level);
}

port.on('message', (job: Job) => {
  run(job).then(
    (out) => {
      const own = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
      const bytes = own ? out : new Uint8Array(out);
      port.postMessage({ id: job.id, data: bytes }, [bytes.buffer as ArrayBuffer]);
    },
    (e: unknown) => port.postMessage({ id: job.id, error: (e as Error).message }),
  );
});
