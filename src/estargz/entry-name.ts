// Entry name cleaning as the reference reader does it: clean "/"+name, then drop the leading "/".
import { posix } from 'node:path';

/** Clean a tar/TOC path: "./a//b/../c/" → "a/c"; the root is "". */
export function cleanEntryName(name: string): string {
  const n = posix.normalize(`/${name}`);
  return n.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Parent directory of a cleaned name ("" for top-level names and for the root). */
export function parentOf(name: string): string {
  const i = name.lastIndexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

/** Last path element of a cleaned name. */
export function baseOf(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}
