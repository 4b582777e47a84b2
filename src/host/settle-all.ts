// Waiting for several promises together when one may fail: every one settles before the first failure (in
// the order given) is thrown, so nothing of the group still runs on (writes into a directory, holds a file)
// once the caller has moved on to clean up. Promise.all rejects at the first failure and leaves the rest
// running.

/** The values of `promises` once all have settled; else the first failure among them, in their order. */
export async function settleAll<const T extends readonly unknown[]>(promises: T): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
