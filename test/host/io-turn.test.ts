// afterIoTurn: a request handed to the registry client's HTTP agent just before it is on the wire once it
// resolves, so synchronous work that follows (a TOC's parse) does not hold it back. The server is another
// process: it answers which came first, the request or the line the test sends once its busy work is over.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterIoTurn } from '../../src/host/io-turn.js';
import { Agent, requestOn } from '../../src/remote/undici-parts.js';

const SERVER = `
const http = require('node:http');
const seen = [];
process.stdin.on('data', (d) => { seen.push('busy work over'); });
const s = http.createServer((req, res) => { seen.push('request'); res.end(JSON.stringify(seen)); });
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* the synchronous work of a caller */ }
}

test('a request started before afterIoTurn is sent before the synchronous work that follows', async () => {
  const server = spawn(process.execPath, ['-e', SERVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const agent = new Agent();
  try {
    const [line] = (await once(server.stdout, 'data')) as [Buffer];
    const port = Number(line.toString().trim());
    const answer = requestOn(agent, { origin: `http://127.0.0.1:${port}`, path: '/', method: 'GET' }); // a new connection
    await afterIoTurn();
    busy(300);
    server.stdin.write('over\n');
    const res = await answer;
    const seen = JSON.parse(await res.body.text()) as string[];
    // without the turn the request leaves only after the busy work, behind the line written right after it
    assert.deepEqual(seen, ['request'], `the server saw ${JSON.stringify(seen)}`);
  } finally {
    await agent.close();
    server.kill();
  }
});
