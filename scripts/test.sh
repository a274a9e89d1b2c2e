#!/usr/bin/env bash
# The whole test suite: set up (with the reference tools), build, run CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
cd build
exec ctest --output-on-failure --timeout 1500 -j "$(nproc)" "$@"
