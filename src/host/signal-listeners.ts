// Taking a process signal over for a while: the process's current listeners of it (e.g. the CLI's abort
// on SIGINT) are set aside and put back afterwards, so that one part of a command can give the signal
// its own meaning (forward it to a container, end a recording) without the command being aborted.

/** Remove the current listeners of `signals` (raw, so `once` wrappers survive) and return a function putting them back. */
export function detachListeners(signals: readonly NodeJS.Signals[]): () => void {
  const saved = signals.map((sig) => [sig, process.rawListeners(sig) as ((...a: unknown[]) => void)[]] as const);
  for (const [sig] of saved) process.removeAllListeners(sig);
  return () => {
    for (const [sig, listeners] of saved) for (const l of listeners) process.on(sig, l);
  };
}

/** Make `handler` the only listener of `sig` until the returned function is called (which restores the others). */
export function claimSignal(sig: NodeJS.Signals, handler: () => void): () => void {
  const restore = detachListeners([sig]);
  process.on(sig, handler);
  return () => {
    process.off(sig, handler);
    restore();
  };
}
