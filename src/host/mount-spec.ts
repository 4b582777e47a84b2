// A mount to make, described rather than made: what a snapshotter returns and a runtime (ours, or
// containerd through the snapshotter service) mounts. The shape of containerd's api/types/mount.proto.

/** One mount: its type (`bind`, `overlay`), source and options; the target is the caller's. */
export interface MountSpec {
  type: string;
  source: string;
  options: string[];
}
