// Per-blob progress of copies. On a TTY: one ora spinner whose text lists the blobs in flight with bytes
// and rate, finished blobs persisted above it. Otherwise: one plain line per finished blob. With --json
// nothing at all (stdout carries only data, stderr stays quiet).
import type { Ora } from 'ora';
import type { BlobProgress } from '../content/endpoint.js';
import type { CliIo } from './cli-io.js';
import { humanRate, humanSize } from './human-size.js';

/** Receives copy events; `finish` stops drawing. */
export interface ProgressView {
  onProgress(p: BlobProgress): void;
  finish(): void;
}

/** The view that fits `io` (see module comment); ora is loaded only when a TTY needs it. */
export async function progressView(io: CliIo, options: { json?: boolean; title: string }): Promise<ProgressView> {
  if (options.json) return { onProgress: () => {}, finish: () => {} };
  if (!io.isTTY) return new PlainView(io);
  const { default: ora } = await import('ora');
  return new SpinnerView(io, options.title, ora);
}

const short = (digest: string) => digest.slice(0, 19);

interface Active {
  started: number;
  done: number;
  total: number;
}

class PlainView implements ProgressView {
  private readonly started = new Map<string, number>();
  private readonly finished = new Set<string>();

  constructor(private readonly io: CliIo) {}

  onProgress(p: BlobProgress): void {
    if (p.state === 'started') this.started.set(p.digest, Date.now());
    if (p.state === 'progress' || p.state === 'started' || this.finished.has(p.digest)) return;
    this.finished.add(p.digest);
    this.io.stderr.write(`${finishedLine(p, this.started.get(p.digest))}\n`);
  }

  finish(): void {}
}

class SpinnerView implements ProgressView {
  private readonly spinner: Ora;
  private readonly active = new Map<string, Active>();
  private readonly finished = new Set<string>();

  constructor(
    private readonly io: CliIo,
    private readonly title: string,
    ora: typeof import('ora').default,
  ) {
    this.spinner = ora({ text: title, stream: io.stderr as NodeJS.WriteStream, color: io.color ? 'cyan' : false, isEnabled: true, discardStdin: false }).start();
  }

  onProgress(p: BlobProgress): void {
    if (this.finished.has(p.digest)) return;
    if (p.state === 'started' || p.state === 'progress') {
      const a = this.active.get(p.digest) ?? { started: Date.now(), done: 0, total: p.total };
      a.done = p.done;
      this.active.set(p.digest, a);
      this.spinner.text = this.text();
      return;
    }
    this.finished.add(p.digest);
    const started = this.active.get(p.digest)?.started;
    this.active.delete(p.digest);
    this.spinner.text = this.text();
    this.spinner.clear();
    this.io.stderr.write(`${finishedLine(p, started)}\n`);
    this.spinner.render();
  }

  finish(): void {
    this.spinner.stop();
  }

  private text(): string {
    const lines = [...this.active].map(([digest, a]) => {
      const pct = a.total ? Math.floor((a.done / a.total) * 100) : 100;
      return `  ${short(digest)}  ${humanSize(a.done)} / ${humanSize(a.total)} (${pct}%)  ${humanRate(a.done, Date.now() - a.started)}`;
    });
    return [this.title, ...lines].join('\n');
  }
}

function finishedLine(p: BlobProgress, started: number | undefined): string {
  if (p.state === 'skipped') return `exists   ${short(p.digest)}  ${humanSize(p.total)}`;
  if (p.state === 'mounted') return `mounted  ${short(p.digest)}  ${humanSize(p.total)}`;
  const ms = started === undefined ? 0 : Date.now() - started;
  return `done     ${short(p.digest)}  ${humanSize(p.total)}  ${(ms / 1000).toFixed(1)}s  ${humanRate(p.total, ms)}`;
}
