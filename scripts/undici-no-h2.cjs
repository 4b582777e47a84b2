// Stands in for undici's lib/dispatcher/client-h2.js in the bundle (scripts/build.mjs). That module requires
// node:http2 (and with it node:tls) when it loads, 10-15 ms of every process that loads the registry
// client; undici calls it only for a socket that negotiated h2 by ALPN, which it offers only with `allowH2`,
// an option this tool never sets (src/remote/undici-parts.ts).
'use strict';
module.exports = function connectH2() {
  throw new Error('ctr-remote: HTTP/2 is not used (undici was asked for it; its client-h2 is left out of the bundle)');
};
