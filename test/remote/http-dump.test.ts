// --http-dump's text: start lines and headers, with credentials (Authorization, cookies) and the secret
// query values of pre-signed URLs replaced, the auth scheme kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpRequest, dumpResponse } from '../../src/remote/http-dump.js';

test('a request: method, path and query, host, headers; Authorization keeps only its scheme', () => {
  const text = dumpRequest('GET', new URL('https://r.example.com/v2/a/blobs/sha256:1?n=5'), { accept: '*/*', authorization: 'Bearer eyJhbGciOi.secret.sig', cookie: 'sid=abc' });
  assert.equal(text, ['> GET /v2/a/blobs/sha256:1?n=5 HTTP/1.1', '> host: r.example.com', '> accept: */*', '> authorization: Bearer <redacted>', '> cookie: <redacted>'].join('\n'));
});

test('pre-signed URLs: signature and credential query values are redacted, in requests and in Location', () => {
  const url = new URL('https://s3.example.com/blob?X-Amz-Credential=AKIA%2F1&X-Amz-Date=20240101&X-Amz-Signature=abcdef&sig=zz&foo=bar');
  assert.match(dumpRequest('GET', url, {}), /^> GET \/blob\?X-Amz-Credential=<redacted>&X-Amz-Date=20240101&X-Amz-Signature=<redacted>&sig=<redacted>&foo=bar HTTP\/1\.1$/m);
  const res = dumpResponse(307, { location: url.toString(), 'set-cookie': ['a=1', 'b=2'], 'content-length': '0', absent: undefined });
  assert.equal(res, [
    '< HTTP/1.1 307',
    '< location: https://s3.example.com/blob?X-Amz-Credential=<redacted>&X-Amz-Date=20240101&X-Amz-Signature=<redacted>&sig=<redacted>&foo=bar',
    '< set-cookie: <redacted>', '< set-cookie: <redacted>', '< content-length: 0',
  ].join('\n'));
  assert.equal(dumpResponse(302, { location: '/v2/x?token=t0k' }), '< HTTP/1.1 302\n< location: /v2/x?token=<redacted>');
});

test('credential headers of other names (hosts.toml header tables) are redacted; ordinary ones are shown', () => {
  const out = dumpRequest('GET', new URL('https://r.example/v2/'), { 'x-api-key': 'k-123', 'private-token': 'p-456', 'x-jfrog-art-api': 'j-789', 'x-test-header': 'plain', accept: 'application/json' });
  for (const secret of ['k-123', 'p-456', 'j-789']) assert.ok(!out.includes(secret), out);
  assert.match(out, /> x-api-key: <redacted>/);
  assert.match(out, /> x-test-header: plain/);
  assert.match(out, /> accept: application\/json/);
});
