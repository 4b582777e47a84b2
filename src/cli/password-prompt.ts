// Reading the registry password of `-u USER` (given without `:PASSWORD`): typed at a terminal with echo off
// (as the reference's ctr-remote prompts), or all of stdin for `--password-stdin` (scripts, CI secrets).
import { StringDecoder } from 'node:string_decoder';
import { CtrError, invalidArgument, limitExceeded } from '../errors.js';

/** Standard input as the CLI sees it (process.stdin, or a stream in tests). */
export interface CliInput extends NodeJS.ReadableStream {
  /** True when it is a terminal. */
  isTTY?: boolean;
  /** Terminal only: raw mode (no echo, no line editing, no signals from keys). */
  setRawMode?(mode: boolean): unknown;
}

/** Longest password accepted (identity tokens are a few KiB). */
const MAX_PASSWORD_BYTES = 64 << 10;

/**
 * Print `prompt` on `out` and read one line from the terminal `input` without echoing it. Backspace and
 * Ctrl-U edit; Enter or Ctrl-D ends it; Ctrl-C interrupts (SIGINT is raised, as the terminal would have).
 */
export function promptPassword(input: CliInput, out: NodeJS.WritableStream, prompt: string, signal?: AbortSignal): Promise<string> {
  if (!input.isTTY || !input.setRawMode) return Promise.reject(invalidArgument('cannot prompt for a password: stdin is not a terminal'));
  const setRaw = input.setRawMode.bind(input);
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let typed = '';
    const interrupted = () => new CtrError('Aborted', 'password prompt interrupted');
    const stop = () => {
      input.off('data', onData);
      signal?.removeEventListener('abort', onAbort);
      setRaw(false);
      input.pause();
      out.write('\n');
    };
    const finish = (err?: Error) => {
      stop();
      if (err) reject(err);
      else resolve(typed);
    };
    const onAbort = () => finish(interrupted());
    const onData = (chunk: Buffer | string) => {
      for (const ch of typeof chunk === 'string' ? chunk : decoder.write(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') {
          // raw mode turned Ctrl-C into a byte: raise the SIGINT the terminal would have sent, and fail once
          // the command's signal has seen it (so the run ends as interrupted, exit 130)
          stop();
          // (the timer keeps the event loop alive until the signal arrives; signal handles do not)
          const fallback = setTimeout(() => reject(interrupted()), 1000);
          signal?.addEventListener('abort', () => {
            clearTimeout(fallback);
            reject(interrupted());
          }, { once: true });
          process.kill(process.pid, 'SIGINT');
          return;
        }
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch === '\u0015') typed = '';
        else if (ch >= ' ') typed += ch;
        if (Buffer.byteLength(typed) > MAX_PASSWORD_BYTES) return finish(limitExceeded(`password longer than ${MAX_PASSWORD_BYTES} bytes`));
      }
    };
    if (signal?.aborted) return reject(new CtrError('Aborted', 'password prompt interrupted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    // echo off before the prompt shows: whoever answers as soon as it appears (a script, a fast typist) must
    // not find the terminal still echoing
    setRaw(true);
    input.on('data', onData);
    input.resume();
    out.write(prompt);
  });
}

/** Read all of `input` as a password for `--password-stdin`: one trailing newline (LF or CRLF) is dropped. */
export async function readPasswordStdin(input: CliInput, signal?: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of input) {
    signal?.throwIfAborted();
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    n += b.length;
    if (n > MAX_PASSWORD_BYTES) throw limitExceeded(`--password-stdin: more than ${MAX_PASSWORD_BYTES} bytes on stdin`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
