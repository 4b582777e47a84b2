// `--mount type=bind,source=S,destination=D,options=ro:rbind` as `ctr run` parses it (a CSV record of
// key=value fields; options separated by ':').
import { resolve } from 'node:path';
import { invalidArgument } from '../errors.js';
import type { SpecMount } from './spec-types.js';

/** Parse one --mount value into a runtime-spec mount; throws InvalidArgument naming the bad field. */
export function parseMountFlag(value: string): SpecMount {
  const mount: SpecMount = { destination: '' };
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=');
    if (eq < 0) throw invalidArgument(`--mount ${JSON.stringify(value)}: expected key=value, got ${JSON.stringify(field)}`);
    const key = field.slice(0, eq);
    const val = field.slice(eq + 1);
    if (key === 'type') mount.type = val;
    else if (key === 'source' || key === 'src') mount.source = val;
    else if (key === 'destination' || key === 'dst' || key === 'target') mount.destination = val;
    else if (key === 'options') mount.options = val.split(':').filter((o) => o !== '');
    else throw invalidArgument(`--mount ${JSON.stringify(value)}: option ${JSON.stringify(key)} not supported`);
  }
  if (!mount.destination.startsWith('/')) {
    throw invalidArgument(`--mount ${JSON.stringify(value)}: destination must be an absolute path`);
  }
  if (mount.type === 'bind' && !(mount.options ?? []).some((o) => o === 'bind' || o === 'rbind')) {
    mount.options = [...(mount.options ?? []), 'rbind'];
  }
  return mount;
}

/** Split one CSV record (fields may be double-quoted, "" escapes a quote). */
function splitCsv(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') fields.push(cur), (cur = '');
    else cur += c;
  }
  if (quoted) throw invalidArgument(`--mount ${JSON.stringify(line)}: unterminated quote`);
  fields.push(cur);
  return fields;
}

/** The `--mount` values of a container as spec mounts, bind sources made absolute (against the working directory). */
export function containerMounts(values: readonly string[] = []): SpecMount[] {
  return values.map(parseMountFlag).map((m) => (m.source && m.type === 'bind' ? { ...m, source: resolve(m.source) } : m));
}
