// The convert peer of the startup report: runs the existing convert benchmark (bench/convert.ts: ours vs
// Debian's ctr-remote 0.12 on a private containerd, level 9, a synthetic ~200 MB layer) and takes its
// per-run times from its output. bench/convert.ts rewrites docs/benchmarks/convert.md; that file is put
// back as it was, so the startup run leaves the convert report to its own benchmark.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { summarize, type Summary } from './summary-stats.js';

const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Convert times of ours and the reference, and the ratio of medians (ours / reference). */
export interface ConvertPeer {
  ours: number[];
  reference: number[];
  oursSummary: Summary;
  referenceSummary: Summary;
  ratio: number;
  /** The layer as bench/convert.ts describes it. */
  input: string;
}

/** Run bench/convert.ts with `runs` runs; undefined (with a log line) when it fails, e.g. without containerd. */
export async function runConvertPeer(runs: number, log: (line: string) => void): Promise<ConvertPeer | undefined> {
  const doc = join(REPO_ROOT, 'docs', 'benchmarks', 'convert.md');
  const saved = existsSync(doc) ? readFileSync(doc) : undefined;
  log(`convert peer: bench/convert.ts --runs ${runs} ...`);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'convert.ts'), '--runs', String(runs), '--rss-mb', '50'], {
      cwd: REPO_ROOT,
      maxBuffer: 16 << 20,
    });
    const times = (who: string) => [...stdout.matchAll(new RegExp(`^${who} run \\d+: ([\\d.]+) s`, 'gm'))].map((m) => Number(m[1]));
    const ours = times('ours');
    const reference = times('reference');
    if (!ours.length || !reference.length) throw new Error(`no run times in its output: ${stdout.slice(-300)}`);
    const oursSummary = summarize(ours);
    const referenceSummary = summarize(reference);
    const input = /^layer: (.+)$/m.exec(stdout)?.[1] ?? 'synthetic layer';
    return { ours, reference, oursSummary, referenceSummary, ratio: oursSummary.median / referenceSummary.median, input };
  } catch (e) {
    log(`convert peer skipped: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    return undefined;
  } finally {
    if (saved) writeFileSync(doc, saved);
  }
}
