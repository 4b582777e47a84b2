#!/bin/sh
# Build the reference stargz snapshotter daemon (main.go here) offline from Debian's Go packages:
#   bench/reference-snapshotter/build.sh [OUT]      (default /tmp/stargz-ref/containerd-stargz-grpc)
# Needs golang-go and golang-github-containerd-stargz-snapshotter-dev (installed when missing, as root).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-/tmp/stargz-ref/containerd-stargz-grpc}
missing=""
command -v go >/dev/null 2>&1 || missing="$missing golang-go"
[ -d /usr/share/gocode/src/github.com/containerd/stargz-snapshotter/fs ] || missing="$missing golang-github-containerd-stargz-snapshotter-dev"
if [ -n "$missing" ]; then
  echo "installing$missing" >&2
  apt-get install -y $missing >&2
fi
mkdir -p "$(dirname "$out")"
# GOPATH mode: Debian's -dev packages form one GOPATH tree; a scratch GOCACHE keeps the root's home clean.
cd "$here"
GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOCACHE="${GOCACHE:-/tmp/stargz-ref/gocache}" \
  go build -o "$out" main.go
echo "$out"
