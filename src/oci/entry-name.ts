// The one rule for the names of layer entries (tar headers, TOC entries, hardlink targets), shared by
// unpacking, conversion and the TOC filesystem: a name is a path below the layer root. A leading "/" and
// "." or empty components mean nothing, ".." is resolved against the components before it, and a name
// that climbs above the root (or holds a NUL byte) is refused, never clamped: a hostile layer is an
// error everywhere rather than one thing unpacked and another thing mounted.
// Spec: https://github.com/opencontainers/image-spec/blob/main/layer.md
import { invalidArgument } from '../errors.js';

/**
 * What makes a name need cleaning: a NUL, an empty, "." or ".." component, a leading or trailing "/".
 * Names in layers are almost always clean already; those skip the component walk (a TOC of 8,000 names is
 * checked and indexed in a few ms less, without the garbage of splitting and joining each one).
 */
const NEEDS_CLEANING = /\0|\/\/|^\/|\/$|(?:^|\/)\.\.?(?:\/|$)/;

/** The components of an entry name below the layer root ([] is the root); throws when it escapes. */
export function entryComponents(name: string): string[] {
  if (name !== '' && !NEEDS_CLEANING.test(name)) return name.split('/');
  if (name.includes('\0')) throw invalidArgument(`layer entry ${JSON.stringify(name)} contains a NUL byte`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw invalidArgument(`layer entry ${JSON.stringify(name)} climbs above the layer root (..)`);
      out.pop();
    } else out.push(c);
  }
  return out;
}

/**
 * An entry name's parent path and base name, cleaned ("a/b/c" → ["a/b", "c"]); the base is undefined for
 * the root itself. Throws when the name escapes. A clean name is cut at its last "/", nothing allocated but
 * the two strings.
 */
export function entryParentAndBase(name: string): [parent: string, base: string | undefined] {
  if (name !== '' && !NEEDS_CLEANING.test(name)) {
    const i = name.lastIndexOf('/');
    return i < 0 ? ['', name] : [name.slice(0, i), name.slice(i + 1)];
  }
  const comps = entryComponents(name);
  const base = comps.pop();
  return [comps.join('/'), base];
}

/** An entry name cleaned to its path below the layer root: "./a//b/../c/" → "a/c", "/" → ""; throws when it escapes. */
export function cleanEntryName(name: string): string {
  if (name !== '' && !NEEDS_CLEANING.test(name)) return name;
  return entryComponents(name).join('/');
}

/** Split a cleaned path into its parent path and base name ("a/b" → ["a", "b"], "b" → ["", "b"]). */
export function splitPath(path: string): [parent: string, base: string] {
  const i = path.lastIndexOf('/');
  return i < 0 ? ['', path] : [path.slice(0, i), path.slice(i + 1)];
}

/** Parent directory of a cleaned path ("" for top-level names and for the root). */
export function parentOf(path: string): string {
  return splitPath(path)[0];
}

/** Last component of a cleaned path. */
export function baseOf(path: string): string {
  return splitPath(path)[1];
}

/** Join a cleaned parent path and a child name ("" is the root). */
export function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}
