// Resolve `USER` (image config) or `--user U[:G]` to uid/gid/additional gids through the image's
// /etc/passwd and /etc/group, with containerd's rules (oci.WithUser, WithAdditionalGIDs):
// numeric ids pass through (a uid found in passwd takes its gid, else gid 0); names must exist.
import { invalidArgument, notFound } from '../errors.js';
import type { SpecUser } from './spec-types.js';

/** One line of /etc/passwd. */
export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** One line of /etc/group. */
export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** The image's account databases; undefined when the file does not exist in the image. */
export interface AccountFiles {
  passwd?: string | undefined;
  group?: string | undefined;
}

/** runc refuses ids above MaxInt32 (containerd enforces the same bound). */
const MAX_ID = 0x7fffffff;

/** Parse /etc/passwd text; malformed lines are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  return splitDb(text).flatMap((f) => {
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    return f[0] && uid !== undefined && gid !== undefined ? [{ name: f[0], uid, gid, home: f[5] ?? '' }] : [];
  });
}

/** Parse /etc/group text; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  return splitDb(text).flatMap((f) => {
    const gid = parseId(f[2]);
    const members = (f[3] ?? '').split(',').filter((m) => m !== '');
    return f[0] && gid !== undefined ? [{ name: f[0], gid, members }] : [];
  });
}

/**
 * Resolve a user string ('' = root, 'name', 'uid', 'user:group' with either part a name or an id)
 * against the image's account files. Throws NotFound naming the user or group that does not exist.
 */
export function resolveUser(user: string, files: AccountFiles): SpecUser {
  const passwd = files.passwd === undefined ? [] : parsePasswd(files.passwd);
  const group = files.group === undefined ? [] : parseGroup(files.group);
  const { uid, gid } = resolveIds(user, passwd, group, files);
  const name = passwd.find((p) => p.uid === uid)?.name;
  const extra = name === undefined ? [] : group.filter((g) => g.name !== name && g.members.includes(name)).map((g) => g.gid);
  const additionalGids = extra.includes(gid) ? extra : [gid, ...extra];
  return { uid, gid, additionalGids };
}

function resolveIds(user: string, passwd: PasswdEntry[], group: GroupEntry[], files: AccountFiles): { uid: number; gid: number } {
  if (user === '') return { uid: 0, gid: 0 };
  const parts = user.split(':');
  if (parts.length > 2) throw invalidArgument(`invalid user ${JSON.stringify(user)}: expected USER or USER:GROUP`);
  const [u = '', g] = parts;
  if (u === '' || g === '') throw invalidArgument(`invalid user ${JSON.stringify(user)}: empty user or group`);
  const numericUid = parseId(u);
  if (g === undefined) {
    if (numericUid !== undefined) return { uid: numericUid, gid: passwd.find((p) => p.uid === numericUid)?.gid ?? 0 };
    const entry = findUser(u, passwd, files);
    return { uid: entry.uid, gid: entry.gid };
  }
  const uid = numericUid ?? findUser(u, passwd, files).uid;
  const gid = parseId(g) ?? findGroup(g, group, files).gid;
  return { uid, gid };
}

function findUser(name: string, passwd: PasswdEntry[], files: AccountFiles): PasswdEntry {
  const entry = passwd.find((p) => p.name === name);
  if (entry) return entry;
  const where = files.passwd === undefined ? 'the image has no /etc/passwd' : 'not in the image\'s /etc/passwd';
  throw notFound(`user ${JSON.stringify(name)}: ${where}`);
}

function findGroup(name: string, group: GroupEntry[], files: AccountFiles): GroupEntry {
  const entry = group.find((g) => g.name === name);
  if (entry) return entry;
  const where = files.group === undefined ? 'the image has no /etc/group' : 'not in the image\'s /etc/group';
  throw notFound(`group ${JSON.stringify(name)}: ${where}`);
}

function splitDb(text: string): string[][] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}
