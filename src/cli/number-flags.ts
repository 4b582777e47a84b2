// Parsing of numeric flag values, with one-line errors that name the flag and the accepted range.
import { invalidArgument } from '../errors.js';

/** An integer flag value in [min, max]; InvalidArgument naming the flag otherwise. */
export function intFlag(text: string, name: string, [min, max]: [number, number]): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw invalidArgument(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`);
  return n;
}

/** A number of seconds in [min, max]; InvalidArgument naming the flag otherwise. */
export function secondsFlag(text: string, name: string, [min, max]: [number, number]): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw invalidArgument(`${name} must be a number of seconds in (0, ${max}], got ${JSON.stringify(text)}`);
  return n;
}
