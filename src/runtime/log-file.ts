// A detached container's log file, opened by root for appending: only a regular file of ours, never
// through a symlink, private (0600). The path may be anywhere (`--log-uri`), /tmp included, where another
// user could have put a symlink (to make root append to a file of theirs or of the system) or a file of
// their own (to read the container's output).
import { closeSync, constants, fchmodSync, fstatSync, openSync } from 'node:fs';
import { CtrError } from '../errors.js';

/** Open (creating) `path` for appending; throws a one-line error naming the path when it cannot be ours. */
export function openLogFile(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'it is a symbolic link' : code === 'ENOENT' ? 'its directory does not exist' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new CtrError('InvalidArgument', `log file ${path}: ${why}`);
  }
  const st = fstatSync(fd);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isFile() || st.uid !== uid) {
    closeSync(fd);
    throw new CtrError('InvalidArgument', `log file ${path}: ${st.isFile() ? `it belongs to uid ${st.uid}, not to us` : 'not a regular file'}`);
  }
  fchmodSync(fd, 0o600);
  return fd;
}
