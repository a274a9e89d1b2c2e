#!/usr/bin/env bash
# Installs the Debian packages imret needs (only the missing ones) and builds
# it with CMake + Ninja into build/. Shared by scripts/demo.sh and scripts/test.sh.
#   scripts/setup.sh           build dependencies + the bundled Fashion-MNIST
#   scripts/setup.sh --tests   also the reference tools the tests compare with
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ ccache pkg-config
  libtorch-dev libfaiss-dev
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libjpeg-dev libpng-dev  # JPEG and PNG decoded directly, with limits and damage detection
  libsimdjson-dev nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev
  zlib1g-dev libgtest-dev libbenchmark-dev
  libcairo2-dev fonts-dejavu-core  # plots (imret visualize)
  libcpp-httplib-dev  # imret serve
  libgloo-dev  # distributed training: the headers of c10d's ProcessGroupGloo (LibTorch has its code)
  pybind11-dev python3-dev python3-numpy  # the Python module (build/python)
  libopenblas0-pthread  # an optimised BLAS for LibTorch and FAISS (Debian defaults to the reference BLAS)
  dataset-fashion-mnist
)
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(python3-torch python3-torchvision python3-pil python3-sklearn python3-numpy umap-learn
             python3-pytest python3-faiss python3-pip python3-setuptools python3-wheel  # tests/python
             clang libclang-rt-14-dev  # the fuzzers (fuzz/run.sh, run by scripts/test.sh)
             chromium)  # the page of imret serve in a headless browser (tests/browser)
  command -v npm >/dev/null || packages+=(nodejs npm)  # Debian's, where the machine has no Node.js
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser test's DevTools client (puppeteer-core, from npm, as locked).
if [[ "${1:-}" == "--tests" && ! -d tests/browser/node_modules/puppeteer-core ]]; then
  echo "setup: installing puppeteer-core (npm) for the browser test" >&2
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
if [[ ! -f build/build.ninja ]]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
jobs=$(nproc)
cmake --build build --parallel "$jobs"
