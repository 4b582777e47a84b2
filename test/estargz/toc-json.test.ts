import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goString, parseTOC, serializeTOC } from '../../src/estargz/toc-json.js';
import type { TOC } from '../../src/estargz/toc-types.js';
import { isCtrError } from '../../src/errors.js';

const toc: TOC = {
  version: 1,
  entries: [
    { name: 'a<b>&c', type: 'reg', size: 3, modtime: '2020-01-02T03:04:05Z', mode: 0o644, uid: 300000, userName: 'u', offset: 12, xattrs: { 'user.z': 'AA==', 'user.a': '/w==' }, digest: `sha256:${'a'.repeat(64)}`, chunkDigest: `sha256:${'b'.repeat(64)}` },
    { name: 'dir', type: 'dir', mode: 0o755 },
    { name: 'big', type: 'chunk', offset: 99, chunkOffset: 4, chunkSize: 0, chunkDigest: `sha256:${'c'.repeat(64)}` },
  ],
};

test('serializeTOC: tab indent, Go field order, omitted empties, sorted xattrs, HTML-escaped strings', () => {
  const s = serializeTOC(toc).toString();
  const expected = [
    '{', '\t"version": 1,', '\t"entries": [', '\t\t{',
    '\t\t\t"name": "a\\u003cb\\u003e\\u0026c",', '\t\t\t"type": "reg",', '\t\t\t"size": 3,', '\t\t\t"modtime": "2020-01-02T03:04:05Z",',
    '\t\t\t"mode": 420,', '\t\t\t"uid": 300000,', '\t\t\t"userName": "u",', '\t\t\t"offset": 12,',
    '\t\t\t"xattrs": {', '\t\t\t\t"user.a": "/w==",', '\t\t\t\t"user.z": "AA=="', '\t\t\t},',
    `\t\t\t"digest": "sha256:${'a'.repeat(64)}",`, `\t\t\t"chunkDigest": "sha256:${'b'.repeat(64)}"`, '\t\t},',
    '\t\t{', '\t\t\t"name": "dir",', '\t\t\t"type": "dir",', '\t\t\t"mode": 493', '\t\t},',
    '\t\t{', '\t\t\t"name": "big",', '\t\t\t"type": "chunk",', '\t\t\t"offset": 99,', '\t\t\t"chunkOffset": 4,', `\t\t\t"chunkDigest": "sha256:${'c'.repeat(64)}"`, '\t\t}',
    '\t]', '}',
  ].join('\n');
  assert.equal(s, expected);
  assert.equal(serializeTOC({ version: 1, entries: [] }).toString(), '{\n\t"version": 1,\n\t"entries": []\n}');
});

test('goString escapes like encoding/json', () => {
  assert.equal(goString('\u0001\u2028"\\\n\t/é'), '"\\u0001\\u2028\\"\\\\\\n\\t/é"');
});

test('parseTOC round-trips what serializeTOC wrote', () => {
  const back = parseTOC(serializeTOC(toc));
  assert.deepEqual(serializeTOC(back), serializeTOC(toc));
  assert.equal(back.entries[0]?.uid, 300000);
});

test('parseTOC: clear errors for corrupt JSON, bad fields and oversize input', () => {
  const bad: [string, RegExp][] = [
    ['{"version":1,"entries":[', /corrupted TOC JSON/],
    ['[]', /not an object/],
    ['{"version":2,"entries":[]}', /unsupported TOC version 2/],
    ['{"version":1,"entries":{}}', /"entries" is not an array/],
    ['{"version":1,"entries":[{"name":"x","type":"sock"}]}', /entry 0: unknown type "sock"/],
    ['{"version":1,"entries":[{"name":"x","type":"reg","size":-1}]}', /entry 0: "size" is not a non-negative integer/],
    ['{"version":1,"entries":[{"name":"x","type":"reg","digest":"md5:1"}]}', /"digest" "md5:1" is not a sha256 digest/],
    ['{"version":1,"entries":[{"type":"reg"}]}', /"name" is not a string/],
  ];
  for (const [json, re] of bad) assert.throws(() => parseTOC(Buffer.from(json)), (e) => isCtrError(e, 'InvalidArgument') && re.test((e as Error).message), json);
  assert.throws(() => parseTOC(Buffer.from('{"version":1,"entries":[]}'), { maxSize: 10 }), (e) => isCtrError(e, 'LimitExceeded'));
});
