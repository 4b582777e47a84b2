// Turning a tar entry name into path components under the unpack root: absolute names become relative,
// "." and empty components vanish, and ".." may not climb above the root.

import { invalidArgument } from '../errors.js';

/** Components of a cleaned entry path ([] is the root itself); throws when the name escapes the root. */
export function entryComponents(name: string): string[] {
  if (name.includes('\0')) throw invalidArgument(`unpack: entry "${name.replace(/\0/g, '\\0')}" contains a NUL byte`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw invalidArgument(`unpack: entry "${name}" escapes the destination (..)`);
      out.pop();
    } else out.push(c);
  }
  return out;
}
