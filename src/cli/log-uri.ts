// `--log-uri` of `run -d` and `tasks start`, as containerd's: where a detached container's output goes.
// Only files apply to a daemonless tool: `file:///abs/path` or an absolute path (containerd's `binary://`
// loggers need its shim); anything else is a usage error.
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { invalidArgument } from '../errors.js';
import { flagParser } from './usage-error.js';

/** The file a `--log-uri` value names. */
export function parseLogUri(text: string): string {
  if (text.startsWith('file://')) {
    try {
      return fileURLToPath(text);
    } catch {
      throw invalidArgument(`${text} is not a file:///absolute/path URI`);
    }
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) throw invalidArgument(`only file:// log URIs are supported (a daemonless tool has no shim to run ${text.split(':')[0]}:// loggers)`);
  if (!isAbsolute(text)) throw invalidArgument(`${text} is not an absolute path or file:// URI`);
  return text;
}

/** parseLogUri as a commander argParser (a bad value is a usage error). */
export const logUriArg = flagParser((text: string) => parseLogUri(text));
