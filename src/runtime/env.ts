// Environment variables of the container process: image Env, then --env-file, then --env, with
// containerd's rules (later K=V replaces K; a bare K unsets it).
import { readFile } from 'node:fs/promises';
import { invalidArgument } from '../errors.js';

/** Merge `overrides` into `base`: K=V replaces an existing K in place or appends; a bare `K` removes K. */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...base];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(envKey(e ?? ''), i));
  for (const value of overrides) {
    const key = envKey(value);
    const at = index.get(key);
    if (!value.includes('=')) {
      if (at !== undefined) out[at] = undefined;
      continue;
    }
    if (at !== undefined && out[at] !== undefined) out[at] = value;
    else index.set(key, out.push(value) - 1);
  }
  return out.filter((e): e is string => e !== undefined);
}

/** Parse the text of an --env-file: one K=V per line; blank lines and `#` comments are skipped. */
export function parseEnvFile(text: string, file = 'env file'): string[] {
  const vars: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (envKey(line) === '') throw invalidArgument(`${file}:${i + 1}: variable name is empty in ${JSON.stringify(line)}`);
    vars.push(line);
  });
  return vars;
}

/** Validate a --env value (K=V or K); throws InvalidArgument naming it when the name is empty. */
export function checkEnvFlag(value: string): string {
  if (envKey(value) === '') throw invalidArgument(`--env ${JSON.stringify(value)}: variable name is empty`);
  return value;
}

function envKey(e: string): string {
  const eq = e.indexOf('=');
  return eq < 0 ? e : e.slice(0, eq);
}

/** The env overrides of a container: the lines of `envFile` (when given), then the `env` flags, each checked. */
export async function containerEnv(envFile: string | undefined, env: readonly string[] = []): Promise<string[]> {
  const fromFile = envFile === undefined ? [] : parseEnvFile(await readEnvFile(envFile), envFile);
  return [...fromFile, ...env.map(checkEnvFlag)];
}

async function readEnvFile(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: unknown) => {
    throw invalidArgument(`cannot read --env-file ${path}: ${(e as Error).message}`, e);
  });
}
