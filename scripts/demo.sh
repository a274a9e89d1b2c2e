#!/usr/bin/env bash
# The main job: set up, build, and run `imret demo` on the bundled Fashion-MNIST.
# Extra arguments go to `imret demo` (e.g. --quick, --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/imret demo "$@"
