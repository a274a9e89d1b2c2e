#!/usr/bin/env bash
# Packs what a GPU machine lent through the `device` tool lacks into .gpu/
# (ignored by git, carried with `carry: [".gpu"]`): the Debian libraries and
# headers imret builds against besides LibTorch (yaml-cpp, spdlog + fmt,
# nlohmann-json, CLI11, GoogleTest, zlib headers, simdjson) and the Fashion-MNIST files.
# Run it here, then scripts/gpu/check.sh there. About 35 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >>.git/info/exclude
rm -rf .gpu
mkdir -p .gpu/prefix .gpu/fashion-mnist
for package in nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 \
               libfmt-dev libfmt9 libgtest-dev zlib1g-dev libsimdjson-dev libsimdjson14; do
  dpkg -L "$package" | grep -vE '^/usr/share/(doc|man|lintian)|^/usr/src' | while read -r path; do
    if [[ -f $path || -L $path ]]; then
      mkdir -p ".gpu/prefix$(dirname "$path")"
      cp -a "$path" ".gpu/prefix$path"
    fi
  done
done
cp /usr/share/datasets/fashion-mnist/*.gz .gpu/fashion-mnist/
du -sh .gpu
