import { fileURLToPath } from 'node:url';

/**
 * Locate a worker_threads entry named `<name>.worker` that lives next to the calling module: the .ts
 * source when running under tsx (tests), the bundled `dist/<name>.worker.mjs` when running the built CLI.
 * Pass the caller's `import.meta.url`.
 */
export function workerEntry(name: string, callerUrl: string): URL {
  const fromSource = callerUrl.endsWith('.ts');
  return new URL(`./${name}.worker.${fromSource ? 'ts' : 'mjs'}`, callerUrl);
}

/** Filesystem path of a worker entry (for APIs that want a path). */
export function workerEntryPath(name: string, callerUrl: string): string {
  return fileURLToPath(workerEntry(name, callerUrl));
}
