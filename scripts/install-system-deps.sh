#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when they are missing (root only).
# Real parts instead of mocks: a registry, skopeo/umoci as independent readers, runc, FUSE tools,
# the reference stargz-snapshotter and its Go library for compatibility tests.
set -euo pipefail
pkgs=(docker-registry skopeo umoci busybox-static runc fuse3 golang-go
      golang-github-containerd-stargz-snapshotter-dev stargz-snapshotter containerd
      apache2-utils zstd debootstrap tar gzip iproute2)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: missing packages ${missing[*]} (run as root, or install them yourself); tests needing them will skip" >&2
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
