// Child process used by the store tests: acts on a layout from another process.
//   layout-child.ts tag <dir> <prefix> <count>      set <count> names <prefix>-<i> pointing at a fixed blob
//   layout-child.ts write-slow <dir> <size>         start a blob write, print "ready", then hang (to be SIGKILLed)
//   layout-child.ts hold-lock <dir>                 take the index lock, print "ready", then hang
//   layout-child.ts lease <dir>                     take a lease, print "ready", then hang
//   layout-child.ts hold-snapshot <root> <digest>   hold that layer's snapshot, print "ready", then hang
import { openLayout } from '../../src/store/oci-layout.js';
import { holdSnapshot } from '../../src/store/snapshots.js';
import { MediaType } from '../../src/oci/media-types.js';
import { RootLayout } from '../../src/store/root-layout.js';

const [cmd, dir, a, b] = process.argv.slice(2);
const layout = cmd === 'hold-snapshot' ? undefined! : await openLayout(dir!, { create: true, ingestDir: `${dir}/ingest` });
const hang = () => new Promise(() => setInterval(() => {}, 1000));

if (cmd === 'tag') {
  const blob = await layout.putBytes(Buffer.from('{}'));
  for (let i = 0; i < Number(b); i++) await layout.setName(`${a}-${i}`, { mediaType: MediaType.OciManifest, ...blob });
} else if (cmd === 'write-slow') {
  const w = await layout.writer({ size: Number(a) });
  await w.write(Buffer.alloc(Math.floor(Number(a) / 2), 7));
  process.stdout.write('ready\n');
  await hang();
} else if (cmd === 'hold-lock') {
  await layout.withIndexLock(async () => {
    process.stdout.write('ready\n');
    await hang();
  });
} else if (cmd === 'lease') {
  await layout.lease();
  process.stdout.write('ready\n');
  await hang();
} else if (cmd === 'hold-snapshot') {
  await holdSnapshot(new RootLayout(dir!), a!);
  process.stdout.write('ready\n');
  await hang();
}
