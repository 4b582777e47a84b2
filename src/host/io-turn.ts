// Waiting for the event loop to have polled for I/O once. A request handed to an HTTP client is not on the
// wire when the call returns: its socket's connect and write are finished by the loop's next poll phase. A
// caller that starts a request and then runs tens of ms of synchronous work (parsing a TOC, building its
// index) holds it back all that time unless it lets one poll phase run first. Only that first step: a
// redirect or a token round trip that follows it waits for the loop like anything else.

/**
 * Resolves once the event loop has run a poll phase after this call: two turns of setImmediate, since an
 * immediate scheduled from the check phase runs only after the next iteration's poll.
 */
export async function afterIoTurn(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  await new Promise<void>((resolve) => setImmediate(resolve));
}
