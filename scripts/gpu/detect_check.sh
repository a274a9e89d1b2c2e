#!/usr/bin/env bash
# The detectors (src/imret/detect: Faster R-CNN / Mask R-CNN, NMS, RoIAlign) on
# a GPU machine lent through the `device` tool, in one short run: check.sh's
# build setup (.gpu/ carried, made by scripts/gpu/bundle.sh), but only the
# targets the detectors need, then, each stage with its own time limit and log
# in $OUT:
#   1. the CUDA tests of the detectors (imret_test_detect --gtest_filter='Cuda*');
#   2. the detection benchmark on CUDA (imret and torchvision, s/img and images/s);
#   3. the CPU detect unit tests under LibTorch 2.x, as time allows.
# The weights the tests and the benchmark need are made while the build runs:
# with torchvision (detector_reference.py, detection_peer.py) where the
# machine's Python has it, else random ones of torchvision's keys and shapes
# (random_detector_weights.py; the CUDA test compares CUDA with CPU only).
# Usage: scripts/gpu/detect_check.sh [SECONDS_FOR_ALL]
# Run from the repository root, or from a snapshot of it (git archive HEAD into
# .gpu/head, say, while the working tree is being edited) with IMRET_GPU=<the .gpu folder>.
set -uo pipefail
budget=${1:-480}
source "$(dirname "$0")/common.sh"
# Tests and benchmarks call /usr/bin/python3: here, the Python that has torch.
use_python_with torch

# Where the tests and the benchmark look for their weights (detector_reference.hpp,
# bench/detection.cpp): std::filesystem::temp_directory_path().
tmp=${TMPDIR:-/tmp}
g++ -std=c++17 -O1 -o "$tmp/imret_text_hash" scripts/gpu/text_hash.cpp
ref_root=$tmp/imret_detector_reference_$("$tmp/imret_text_hash" tests/unit/detect/detector_reference.py)
bench_dir=$tmp/imret_bench_detection_16
have_torchvision=0
python3 -c 'import torchvision' 2>/dev/null && have_torchvision=1
prepare() {
  set -x
  local a
  for a in fasterrcnn maskrcnn; do
    [[ -e $ref_root/$a/sizes.json ]] && continue
    rm -rf "$ref_root/$a.prep"
    if (( have_torchvision )) && python3 tests/unit/detect/detector_reference.py "$a" "$ref_root/$a.prep"; then
      echo "reference $a: torchvision"
    else
      rm -rf "$ref_root/$a.prep"
      python3 scripts/gpu/random_detector_weights.py reference "$ref_root/$a.prep" "$a" && echo "reference $a: RANDOM weights"
    fi
    mv "$ref_root/$a.prep" "$ref_root/$a"
  done
  [[ -e $bench_dir/maskrcnn.pth ]] && return 0
  if (( have_torchvision )) && python3 bench/detection_peer.py make "$bench_dir" 16; then
    echo "bench weights: torchvision"
  else
    rm -rf "$bench_dir"
    python3 scripts/gpu/random_detector_weights.py bench "$bench_dir" 16 && echo "bench weights: RANDOM"
  fi
}
prepare >"$OUT/prepare.log" 2>&1 &
prepare_pid=$!

configure_gpu_build -DIMRET_WITH_CAIRO=OFF || { say "configure failed"; exit 1; }
stage build 320 "$OUT/build.log" -- ninja -C build-gpu -j16 -k 0 imret_test_detect imret_bench_detection
grep -E "error:|FAILED" "$OUT/build.log" | head -40 >>"$summary"

wait "$prepare_pid"
say "weights ready: $(grep -E '^(reference|bench weights)' "$OUT/prepare.log" | tr '\n' ';')"

test=build-gpu/tests/imret_test_detect
bench=build-gpu/bench/imret_bench_detection
gtest_lines='^\[ +(OK|FAILED|PASSED|SKIPPED) +\]'
if [[ -x $test ]]; then
  stage "cuda tests (detect)" 150 "$OUT/cuda_tests.log" -- "$test" --gtest_filter='Cuda*'
  grep -E "$gtest_lines|Failure|Expected|Which is|actual|image [0-9]" "$OUT/cuda_tests.log" | head -40 >>"$summary"
else
  say "no $test"
fi
if [[ -x $bench ]]; then
  stage "detection bench (CUDA, PyTorch on CUDA as peer)" 180 "$OUT/bench.log" -- "$bench" --device cuda --images 16
  grep -vE '^\[' "$OUT/bench.log" | tail -6 >>"$summary"
else
  say "no $bench"
fi
if [[ -x $test ]]; then
  stage "cpu detect tests (LibTorch 2.x)" 240 "$OUT/cpu_tests.log" -- "$test" --gtest_filter='-Cuda*:DetectorParity*'
  grep -E "$gtest_lines" "$OUT/cpu_tests.log" | head -60 >>"$summary"
fi
say "done"
