// Preload for the convert bench: on exit, write this process's peak RSS (KiB, workers included) to $BENCH_RSS_OUT.
import { writeFileSync } from 'node:fs';
process.on('exit', () => {
  if (process.env.BENCH_RSS_OUT) writeFileSync(process.env.BENCH_RSS_OUT, String(process.resourceUsage().maxRSS));
});
