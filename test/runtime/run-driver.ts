// Test helper process: runs one container with runInContainer (options as JSON in argv[2]) and exits
// with its exit code, so tests can signal or SIGKILL a real owner process. `root` is given as a path.
import { runInContainer, type ContainerOptions } from '../../src/runtime/container.js';
import { RootLayout } from '../../src/store/root-layout.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as Omit<ContainerOptions, 'root'> & { root: string };
try {
  const r = await runInContainer({ ...opts, root: new RootLayout(opts.root) });
  process.exitCode = r.exitCode;
} catch (e) {
  process.stderr.write(`driver: ${(e as Error).message}\n`);
  process.exitCode = 125;
}
