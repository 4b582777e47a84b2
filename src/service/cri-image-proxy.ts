// The CRI keychain's front door: the service answers kubelet's `runtime.v1.ImageService` (and the older
// `runtime.v1alpha2` one) on its own socket and forwards every call, bytes untouched, to containerd's CRI
// socket. On the way, a PullImage's credentials are kept (cri-keychain.ts) before containerd sees the
// request, since containerd prepares the image's snapshots, and so asks for its lazy layers, during the
// pull. Kubelet points `--image-service-endpoint` at this socket. Statuses and metadata pass through.
import * as grpc from '@grpc/grpc-js';
import { basicCredentials, decodePullImageRequest } from './cri-pull-request.js';
import type { CriKeychain } from './cri-keychain.js';
import type { Logger } from './logger.js';

const METHODS = ['ListImages', 'ImageStatus', 'PullImage', 'RemoveImage', 'ImageFsInfo'] as const;
const PACKAGES = ['runtime.v1', 'runtime.v1alpha2'] as const;

const identity = (b: Buffer): Buffer => b;

/** A service definition whose messages are raw bytes (the proxy decodes nothing it does not need). */
function rawDefinition(pkg: string): grpc.ServiceDefinition {
  return Object.fromEntries(
    METHODS.map((m) => [
      m,
      { path: `/${pkg}.ImageService/${m}`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity, originalName: m },
    ]),
  ) as grpc.ServiceDefinition;
}

/** Options of addCriImageProxy. */
export interface CriProxyOptions {
  /** containerd's CRI socket (`[cri_keychain] image_service_path`). */
  upstream: string;
  keychain: CriKeychain;
  logger: Logger;
}

/** Add the ImageService proxies to `server`; returns what closes their upstream connections. */
export function addCriImageProxy(server: grpc.Server, options: CriProxyOptions): () => void {
  const clients: grpc.Client[] = [];
  for (const pkg of PACKAGES) {
    const def = rawDefinition(pkg);
    const Client = grpc.makeGenericClientConstructor(def, `${pkg}.ImageService`);
    const client = new Client(`unix://${options.upstream}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, Function>;
    clients.push(client);
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of METHODS) {
      handlers[method] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        void (async () => {
          if (method === 'PullImage') await keep(call.request, options);
          client[method]!.call(client, call.request, call.metadata, (e: grpc.ServiceError | null, res: Buffer) => {
            if (e) callback({ code: e.code, details: e.details, metadata: e.metadata });
            else callback(null, res);
          });
        })();
      };
    }
    server.addService(def, handlers);
  }
  return () => clients.forEach((c) => c.close());
}

/** Keep the credentials of a PullImage request (a request the proxy cannot read is forwarded anyway). */
async function keep(request: Buffer, options: CriProxyOptions): Promise<void> {
  try {
    const { image, auth } = decodePullImageRequest(request);
    const creds = basicCredentials(auth);
    if (!creds) return;
    await options.keychain.remember(image, creds);
    options.logger.debug('kept CRI credentials', { image });
  } catch (e) {
    options.logger.warn('cannot read the credentials of a PullImage request', { error: (e as Error).message });
  }
}
