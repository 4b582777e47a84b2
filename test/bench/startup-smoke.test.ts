// CI smoke run of the startup benchmark (bench/lib/startup-bench.ts) so the harness cannot rot: busybox
// only, one sample of each mode, a 2 s optimize period, skopeo peer on, convert peer off. Checks the report
// has a row per mode with positive phase times, that rpull fetched less than the full pull, and the files.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStartupBench, type StartupResults } from '../../bench/lib/startup-bench.js';
import { writeStartupReport, type ReportFiles } from '../../bench/lib/startup-report.js';
import { MODES } from '../../bench/lib/startup-sample.js';

const skip = process.getuid?.() !== 0 ? 'needs root: the benchmark runs image optimize and run (FUSE, overlayfs, runc) and drops the page cache' : false;

describe('startup benchmark smoke (busybox, 1 sample)', { skip }, () => {
  let dir: string;
  let results: StartupResults;
  let files: ReportFiles;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'startup-smoke-'));
    results = await runStartupBench({
      images: ['busybox'], modes: [...MODES], samples: 1, rttMs: 5, mbps: 100, period: 2,
      cacheDir: join(dir, 'cache'), skopeo: true, convertRuns: 0, noBackgroundFetch: false,
      payloadLayers: 1, payloadMiB: 1, log: () => {},
    });
    files = writeStartupReport(results, join(dir, 'out'), 'startup-smoke');
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('one summary row per mode with positive phase times', () => {
    assert.deepEqual(results.summary.map((s) => s.mode), [...MODES]);
    for (const s of results.summary) {
      for (const phase of [s.pull, s.create, s.run, s.total]) assert.ok(phase.median > 0 && phase.median < 30, `${s.mode}: ${JSON.stringify(phase)}`);
      assert.ok(Math.abs(s.total.median - (s.pull.median + s.create.median + s.run.median)) < 0.05, `${s.mode}: total is the sum of the phases`);
    }
  });

  test('rpull fetches less than the full pull; the lazy run fetches the busybox binary', () => {
    const by = (mode: string) => results.summary.find((s) => s.mode === mode)!;
    const legacy = by('legacy');
    assert.ok(legacy.pullBytes.median > 900_000, `the legacy pull carries the ~1 MB busybox layer: ${legacy.pullBytes.median}`);
    assert.equal(legacy.runBytes.median, 0, 'a fully pulled image runs without the network');
    for (const mode of ['estargz-noopt', 'estargz']) {
      assert.ok(by(mode).pullBytes.median < legacy.pullBytes.median / 4, `${mode} rpull: ${by(mode).pullBytes.median} bytes`);
      assert.ok(by(mode).runBytes.median > 0, `${mode}: the run reads busybox through the lazy mount`);
    }
  });

  test('skopeo peer and the busybox target are reported', () => {
    assert.equal(results.skopeoSummary.length, 1);
    assert.ok(results.skopeoSummary[0]!.seconds.median > 0);
    assert.deepEqual(results.targets.map((t) => t.name), ['busybox: estargz-noopt / legacy']);
  });

  test('markdown table has the three rows; JSON and SVG are written', () => {
    const md = readFileSync(files.markdown, 'utf8');
    for (const mode of MODES) assert.match(md, new RegExp(`^\\| busybox \\| ${mode} \\| \\d`, 'm'));
    const json = JSON.parse(readFileSync(files.json, 'utf8')) as StartupResults;
    assert.equal(json.samples.length, 3);
    const svg = readFileSync(files.svg, 'utf8');
    assert.match(svg, /^<svg /);
    assert.equal((svg.match(/<rect [^>]*><title>busybox /g) ?? []).length >= 6, true, 'pull/create/run segments for three bars');
  });
});
