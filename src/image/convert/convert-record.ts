// The `--estargz-record-in` file: NDJSON written by optimize's `--record-out`, one access per line.
// Only `path` is used; paths are deduplicated keeping the first occurrence's position.
import { invalidArgument } from '../../errors.js';

/** Prioritized paths from record-file text; throws InvalidArgument naming the first bad line. */
export function parseRecordFile(text: string, label = 'record file'): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      throw invalidArgument(`${label}: line ${i + 1} is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
    }
    const path = (rec as { path?: unknown } | null)?.path;
    if (typeof path !== 'string' || path === '') throw invalidArgument(`${label}: line ${i + 1} has no "path" string`);
    if (!seen.has(path)) {
      seen.add(path);
      out.push(path);
    }
  });
  return out;
}
