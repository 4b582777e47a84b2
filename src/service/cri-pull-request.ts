// What the CRI keychain needs of a `runtime.v1.ImageService/PullImage` request: the image and the registry
// credentials kubelet passes (AuthConfig), read from the protobuf bytes the proxy forwards untouched. Only
// these fields are decoded (wire format: varint keys, length-delimited strings and messages); the rest is
// skipped. Pure. Field numbers from k8s.io/cri-api's api.proto:
//   PullImageRequest { ImageSpec image = 1; AuthConfig auth = 2; PodSandboxConfig sandbox_config = 3; }
//   ImageSpec { string image = 1; ... }
//   AuthConfig { string username = 1; string password = 2; string auth = 3; string server_address = 4;
//                string identity_token = 5; string registry_token = 6; }
import { invalidArgument } from '../errors.js';

/** The credentials of a pull, as kubelet sends them. */
export interface CriAuth {
  username?: string;
  password?: string;
  /** base64 of user:password. */
  auth?: string;
  serverAddress?: string;
  identityToken?: string;
  registryToken?: string;
}

/** The image of a PullImage request and its credentials (undefined when none were sent). */
export function decodePullImageRequest(bytes: Buffer): { image: string; auth?: CriAuth } {
  const top = fields(bytes);
  const spec = top.get(1)?.[0];
  const image = spec ? fields(spec).get(1)?.[0]?.toString('utf8') : undefined;
  if (!image) throw invalidArgument('PullImage request without an image');
  const authBytes = top.get(2)?.[0];
  if (!authBytes) return { image };
  const a = fields(authBytes);
  const str = (n: number) => a.get(n)?.[0]?.toString('utf8') || undefined;
  const auth: CriAuth = {};
  const set = (k: keyof CriAuth, v: string | undefined) => v !== undefined && (auth[k] = v);
  set('username', str(1));
  set('password', str(2));
  set('auth', str(3));
  set('serverAddress', str(4));
  set('identityToken', str(5));
  set('registryToken', str(6));
  return Object.keys(auth).length > 0 ? { image, auth } : { image };
}

/** User and password of an AuthConfig (from `auth` when the separate fields are empty); undefined when it has none. */
export function basicCredentials(auth: CriAuth | undefined): { username: string; password: string } | undefined {
  if (!auth) return undefined;
  if (auth.username) return { username: auth.username, password: auth.password ?? '' };
  if (auth.auth) {
    const plain = Buffer.from(auth.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) return { username: plain.slice(0, colon), password: plain.slice(colon + 1) };
  }
  if (auth.identityToken) return { username: '<token>', password: auth.identityToken };
  return undefined;
}

/** The length-delimited fields of a message by number (varint and fixed fields are skipped). */
function fields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw invalidArgument('truncated protobuf message');
      const b = buf[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw invalidArgument('bad protobuf varint');
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        varint();
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const len = varint();
        if (pos + len > buf.length) throw invalidArgument('truncated protobuf field');
        const list = out.get(field) ?? [];
        list.push(buf.subarray(pos, pos + len));
        out.set(field, list);
        pos += len;
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        throw invalidArgument(`unsupported protobuf wire type ${key & 7}`);
    }
  }
  return out;
}
