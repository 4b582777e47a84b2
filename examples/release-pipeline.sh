#!/usr/bin/env bash
# Release pipeline with ctr-remote: take the image a build wrote as an OCI layout (BuildKit
# `--output type=oci,tar=false,dest=build/image`, or `skopeo copy ... oci:build/image:latest`), convert it
# to eStargz, push the original and the eStargz image, and keep an OCI archive as the release artifact.
# No containerd, no Docker daemon. Flags follow stargz-snapshotter's ctr-remote.
#
#   REGISTRY=registry.example.com/team NAME=app VERSION=1.2.3 examples/release-pipeline.sh oci:build/image:latest
#
# Credentials: `-u user:pass` on push, or ~/.docker/config.json (docker login / credential helpers).
# CTR_REMOTE is the ctr-remote to run, by default this project's bin/ctr-remote: a bare `ctr-remote` on
# PATH may be the reference Go binary (Debian's stargz-snapshotter package installs one), whose convert
# needs containerd.
set -euo pipefail

CTR_REMOTE=${CTR_REMOTE:-$(cd "$(dirname "$0")/.." && pwd)/bin/ctr-remote}

SRC=${1:?usage: $0 oci:DIR[:TAG] | REF}
REGISTRY=${REGISTRY:-127.0.0.1:5000}
NAME=${NAME:-app}
VERSION=${VERSION:-$(git describe --tags --always 2>/dev/null || echo dev)}
PUSH_FLAGS=(${PLAIN_HTTP:+--plain-http} ${REGISTRY_USER:+-u "$REGISTRY_USER"})
OUT=${OUT:-dist}

# A private store for this run, so parallel pipelines on one machine never see each other's names.
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
ctr() { "$CTR_REMOTE" --root "$ROOT" "$@"; }

ORG="$REGISTRY/$NAME:$VERSION-org"
ESGZ="$REGISTRY/$NAME:$VERSION"

# 1. Bring the build output into the store under its release name.
ctr image tag "$SRC" "$ORG"

# 2. eStargz, OCI media types (the TOC digest lives in layer annotations). Level 9 as the reference does.
ctr image convert --estargz --oci --estargz-compression-level 9 "$ORG" "$ESGZ"

# 3. Push both: the legacy image for runtimes without lazy pulling, the eStargz one for stargz clients.
ctr image push "${PUSH_FLAGS[@]}" "$ORG"
ctr image push "${PUSH_FLAGS[@]}" "$ESGZ"

# 4. Release artifact: an OCI image-layout archive (`skopeo copy oci-archive:...`, `ctr-remote image import`).
mkdir -p "$OUT"
ctr image export "$OUT/$NAME-$VERSION.oci.tar" "$ESGZ"

# 5. What was published, for the release notes.
ctr image ls --json > "$OUT/$NAME-$VERSION.images.json"
ctr image ls
