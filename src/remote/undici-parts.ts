// The parts of undici the registry client uses, imported by path. undici's index also loads its fetch,
// cookies, websocket, mock and cache modules: loading the index took 87–99 ms of every CLI process's start,
// these three 43–51 ms (measured, bundled as dist/ bundles them). The index also attaches request() to
// every dispatcher's prototype; here it is called on the agent instead (requestOn).
import type { Dispatcher } from 'undici';
import Agent from 'undici/lib/dispatcher/agent.js';
import buildConnector from 'undici/lib/core/connect.js';
import apiRequest from 'undici/lib/api/api-request.js';

export { Agent, buildConnector };

/** `dispatcher.request(options)` without undici's index having patched the prototype. */
export function requestOn(dispatcher: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return apiRequest.call(dispatcher, options);
}
