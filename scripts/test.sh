#!/usr/bin/env bash
# The whole test suite: set up (with the reference tools), build, run CTest,
# then every fuzzer for a bounded time (IMRET_FUZZ_SECONDS each, default 20;
# 0 skips them). Fails when a test fails or a fuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
status=0
(cd build && ctest --output-on-failure --timeout 1500 -j "$(nproc)" "$@") || status=$?
fuzz_seconds=${IMRET_FUZZ_SECONDS:-20}
if ((fuzz_seconds > 0)); then
  fuzz/run.sh "$fuzz_seconds" || status=1
fi
exit "$status"
