// The one line an error is reported in: newlines folded, and a long message (a registry's HTML error
// page, a whole JSON document) cut to its start with a note of how much was left out. --debug prints
// the whole text.

/** Longest error line printed without --debug, in characters. */
export const MAX_ERROR_LINE = 400;

/** `message` as one line of at most about `max` characters (see module comment). */
export function errorLine(message: string, max = MAX_ERROR_LINE): string {
  const line = message.replace(/\s*[\r\n]+\s*/g, ' ');
  if (line.length <= max) return line;
  const cut = line.length - max;
  return `${line.slice(0, max)}… (${cut} more characters; --debug prints them)`;
}
