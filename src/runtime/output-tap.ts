// A container output stream read by us as it arrives (instead of going straight to a file descriptor):
// copied to a stream target, kept when the target is 'pipe', and split into lines for a line callback.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';
import type { StdioTarget } from './runc.js';

/** The reading side of one tapped output. */
export interface OutputTap {
  /** Read `stream` to its end (resolves then; a missing stream resolves at once). */
  attach(stream: Readable | null | undefined): Promise<void>;
  /** The whole output when the target is 'pipe'. */
  captured(): string | undefined;
}

/**
 * A tap for an output going to `target`, or undefined when the child can write to it directly ('inherit',
 * 'ignore', a file descriptor, without a line callback). `ours` is where 'inherit' copies to.
 */
export function outputTap(target: StdioTarget, ours: NodeJS.WritableStream, onLine?: (line: string) => void): OutputTap | undefined {
  if (typeof target !== 'object' && target !== 'pipe' && onLine === undefined) return undefined;
  const sink = typeof target === 'object' ? target : target === 'inherit' ? ours : undefined;
  const kept: Buffer[] = [];
  const lines = onLine ? lineSplitter(onLine) : undefined;
  return {
    attach: (stream) =>
      new Promise<void>((resolve) => {
        if (!stream) return resolve();
        stream.on('data', (b: Buffer) => {
          sink?.write(b);
          if (target === 'pipe') kept.push(b);
          lines?.push(b);
        });
        stream.once('close', () => {
          lines?.end();
          resolve();
        });
      }),
    captured: () => (target === 'pipe' ? Buffer.concat(kept).toString('utf8') : undefined),
  };
}

/** Feed bytes, get whole lines (UTF-8 split safely across chunks); `end` flushes an unterminated last line. */
function lineSplitter(onLine: (line: string) => void): { push(b: Buffer): void; end(): void } {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let ended = false;
  return {
    push(b) {
      const parts = (pending + decoder.write(b)).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    },
    end() {
      if (ended) return;
      ended = true;
      const last = pending + decoder.end();
      pending = '';
      if (last !== '') onLine(last);
    },
  };
}
