#!/bin/sh
# `npm run bench [-- FLAGS]`: the startup benchmark (bench/startup.ts; flags in bench/README.md). Needs root.
set -e
cd "$(dirname "$0")/.."
exec node --import tsx bench/startup.ts "$@"
