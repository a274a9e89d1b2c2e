#!/usr/bin/env bash
# Runs on a GPU machine lent through the `device` tool (CUDA PyTorch 2.x, no
# OpenCV, FAISS or Debian packages), from the repository root, with .gpu/
# carried (scripts/gpu/bundle.sh makes it):
#   1. builds imret against that machine's CUDA LibTorch, OpenCV and FAISS off;
#   2. runs the CUDA tests (Cuda* in the unit tests: GPU = CPU results);
#   3. takes a backtrace (cuda-gdb) of std::filesystem::remove_all crashing on
#      a non-empty folder, seen with the PyTorch 2.11 wheel (docs/gpu.md);
#   4. `imret demo --device cuda` on Fashion-MNIST, end to end; data-parallel
#      training on CUDA (2 ranks on the one GPU, Gloo: NCCL is not wired yet)
#      and the c10d unit tests, when this LibTorch has c10d with Gloo's headers;
#   5. the search, training and detection benchmarks on CUDA (PyTorch on the GPU as peer);
#   6. the whole CPU unit-test suite under LibTorch 2.x, as time allows.
# Each stage has its own time limit, so that the logs of the others come back
# in $OUT whatever happens. Usage: scripts/gpu/check.sh [SECONDS_FOR_ALL]
set -uo pipefail
budget=${1:-480}
source "$(dirname "$0")/common.sh"
mkdir -p /usr/share/datasets
[[ -e /usr/share/datasets/fashion-mnist ]] || cp -r "$gpu_dir/fashion-mnist" /usr/share/datasets/
# Tests and benchmarks call /usr/bin/python3 (Debian's, with the references);
# here that is the Python that has torch, torchvision and scikit-learn.
use_python_with "torch, sklearn"
configure_gpu_build || exit 1
stage build 240 "$OUT/build.log" -- ninja -C build-gpu -k 0
grep -E "error:|FAILED" "$OUT/build.log" | head -40 >>"$summary"

for stage_name in search models learn detect; do
  test=build-gpu/tests/imret_test_$stage_name
  [[ -x $test ]] && stage "cuda tests ($stage_name)" 150 "$OUT/cuda_tests.log" -- "$test" --gtest_filter='Cuda*'
done
grep -E "^\[  (FAILED|PASSED|SKIPPED) " "$OUT/cuda_tests.log" >>"$summary" 2>/dev/null

# Diagnosis of the remove_all crash (docs/gpu.md): which libraries come first,
# what LibTorch exports of std::filesystem, and where the crash is.
{
  readelf -d build-gpu/tests/imret_test_data | grep NEEDED
  torch_lib=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib
  nm -D --defined-only "$torch_lib/libtorch_cpu.so" | grep -c filesystem
  nm -DC --defined-only "$torch_lib/libtorch_cpu.so" | grep filesystem | head -20
} >"$OUT/diagnosis.txt" 2>&1
stage "remove_all backtrace" 60 "$OUT/diagnosis.txt" -- cuda-gdb -batch -ex run -ex bt \
  --args build-gpu/tests/imret_test_data --gtest_filter=Idx.ReadsPlainFiles

if [[ -x build-gpu/imret ]]; then
  stage "demo on CUDA" 120 "$OUT/demo.log" -- build-gpu/imret -q demo --device cuda --out /tmp/demo-cuda
  grep -E "mAP|@1 |k-NN|took|epoch" "$OUT/demo.log" | tail -12 >>"$summary"
  stage "2 ranks on CUDA" 90 "$OUT/distributed.log" -- build-gpu/imret -q train --device cuda --nproc-per-node 2 \
    --sync-batch-norm --method triplet --epochs 1 --limit 6000 --out /tmp/dist-cuda
  tail -4 "$OUT/distributed.log" >>"$summary"
  [[ -x build-gpu/tests/imret_test_dist ]] &&
    stage "c10d tests" 60 "$OUT/distributed.log" -- build-gpu/tests/imret_test_dist
  cp /tmp/demo-cuda/metrics.json "$OUT/demo_metrics.json" 2>/dev/null
fi
bench=build-gpu/bench
if [[ -x $bench/imret_bench_search_backends ]]; then
  args=(--device cuda --random 1000000 --random-queries 10000)
  [[ -d /tmp/demo-cuda/embeddings/queries ]] &&
    args+=(--database /tmp/demo-cuda/embeddings/database --queries /tmp/demo-cuda/embeddings/queries)
  stage "search bench (CUDA)" 90 "$OUT/bench.log" -- "$bench/imret_bench_search_backends" "${args[@]}"
fi
if [[ -x $bench/imret_bench_train_throughput ]]; then
  for method in "--method classification" "--method triplet --miner batch-hard" "--method triplet --miner semi-hard"; do
    # shellcheck disable=SC2086
    stage "train bench (CUDA) $method" 60 "$OUT/bench.log" -- "$bench/imret_bench_train_throughput" --device cuda \
      --batches 200 --rounds 2 $method
  done
fi
if [[ -x $bench/imret_bench_detection ]]; then
  stage "detection bench (CUDA)" 120 "$OUT/bench.log" -- "$bench/imret_bench_detection" --device cuda --images 16
fi
grep -E "queries/s|ratio|best round|images/s" "$OUT/bench.log" >>"$summary" 2>/dev/null

# The CPU unit tests under LibTorch 2.x (the Cuda* ones ran above).
stage "unit tests (CPU, LibTorch 2.x)" 200 "$OUT/ctest.log" -- \
  ctest --test-dir build-gpu -j 16 -R '^(core|data|eval|learn|models|search|detect)\.' -E '\.Cuda' --output-on-failure
grep -E "tests passed|\(Failed\)|\(Timeout\)|Not Run" "$OUT/ctest.log" | head -30 >>"$summary"

say "done"
