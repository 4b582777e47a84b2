// `ctr-remote --version` (or `-v`) alone: answered before anything else is loaded. Scripts call it to probe
// the tool, and it then costs little more than starting node.
import pkg from '../../package.json' with { type: 'json' };

/** Answer the probe when `argv` is one; true when answered. */
export function answerVersionProbe(argv: readonly string[], stdout: NodeJS.WritableStream = process.stdout): boolean {
  if (argv.length !== 1 || (argv[0] !== '--version' && argv[0] !== '-v')) return false;
  stdout.write(`${pkg.version}\n`);
  return true;
}
