// Path handling for TOC entry names: the reference cleans "/" + name and drops the leading "/"
// (../shared/estargz-format.md, "TOC JSON").

import { posix } from 'node:path';

/** Clean a TOC or tar entry name: "./a//b/" → "a/b", "/" or "./" → "" (the root). */
export function cleanEntryName(name: string): string {
  const cleaned = posix.normalize(`/${name}`);
  return cleaned.replace(/^\/+/, '').replace(/\/+$/, '');
}

/** Split a cleaned path into its parent path and base name ("a/b" → ["a", "b"], "b" → ["", "b"]). */
export function splitPath(path: string): [parent: string, base: string] {
  const i = path.lastIndexOf('/');
  return i < 0 ? ['', path] : [path.slice(0, i), path.slice(i + 1)];
}

/** Join a parent path and a child name ("" is the root). */
export function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}
