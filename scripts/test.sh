#!/usr/bin/env bash
# Runs every test file (test/**/*.test.ts) with node's test runner under tsx; extra args filter by path.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find test -name '*.test.ts' | sort); fi
# rpull as root starts a keeper process (src/image/lazy/layer-keeper.ts) that outlives the test; only the
# tests of the keeper turn it on
export CTR_REMOTE_KEEPER=off
exec node --import tsx --test --test-concurrency=2 --test-timeout=600000 "${files[@]}"
