// One full pull with the library (`pullImage`), used by pull-vs-skopeo.ts when the CLI has no `image pull` yet.
// Usage: node pull-runner.mjs ROOT REF
import { pullImage } from '../src/image/copy/pull-image.js';
import { Context } from '../src/image/context.js';

const [root, ref] = process.argv.slice(2);
if (!root || !ref) {
  process.stderr.write('usage: pull-runner ROOT REF\n');
  process.exit(2);
}
await pullImage(new Context(root), ref, { registry: { plainHttp: true } });
