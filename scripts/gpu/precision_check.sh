#!/usr/bin/env bash
# Issue 24 on a GPU machine lent through the `device` tool, in one short run:
# check.sh's build setup (.gpu/ carried, made by scripts/gpu/bundle.sh), only
# the targets needed, then, each stage with its own time limit and log in $OUT:
#   1. the CUDA tests of precision, the embedding pipeline, the device
#      semi-hard miner, NMS and RoIAlign (Cuda* in models, learn, detect);
#   2. ResNet-50 embedding throughput at fp32/tf32/bf16/fp16, from resident
#      tensors and from JPEG files, batch 256, torchvision (channels-last +
#      autocast) in the same run (bench/embedding_throughput.cpp);
#   3. the demo's retrieval quality at bf16 against fp32 (imret demo --device
#      cuda, then imret embed --precision bf16 of both splits, imret evaluate);
#   4. the semi-hard triplet training step against PyTorch, and the detection
#      benchmark (weights made as detect_check.sh makes them, when time allows).
# Usage: scripts/gpu/precision_check.sh [SECONDS_FOR_ALL]   (default 540)
set -uo pipefail
budget=${1:-540}
source "$(dirname "$0")/common.sh"
mkdir -p /usr/share/datasets
[[ -e /usr/share/datasets/fashion-mnist ]] || cp -r "$gpu_dir/fashion-mnist" /usr/share/datasets/
use_python_with "torch, torchvision"

# The JPEG files and weights of the embedding bench, made while the build runs.
images=4096
python3 bench/feature_extraction_peer.py make "${TMPDIR:-/tmp}/imret_bench_features_$images" "$images" \
  >"$OUT/prepare.log" 2>&1 &
prepare_pid=$!

configure_gpu_build -DIMRET_WITH_CAIRO=OFF || { say "configure failed"; exit 1; }
stage build 300 "$OUT/build.log" -- ninja -C build-gpu -j16 -k 0 imret_cli imret_test_models imret_test_learn \
  imret_test_detect imret_bench_embedding_throughput imret_bench_train_throughput
grep -E "error:|FAILED" "$OUT/build.log" | head -40 >>"$summary"

gtest_lines='^\[ +(OK|FAILED|PASSED|SKIPPED) +\]'
for stage_name in models learn detect; do
  test=build-gpu/tests/imret_test_$stage_name
  [[ -x $test ]] && stage "cuda tests ($stage_name)" 120 "$OUT/cuda_tests.log" -- "$test" \
    --gtest_filter='Cuda*:Precision*:GradScaler*:Miner.SemiHard*'
done
grep -E "$gtest_lines|Failure|Expected|Which is" "$OUT/cuda_tests.log" | head -60 >>"$summary"

wait "$prepare_pid"
bench=build-gpu/bench/imret_bench_embedding_throughput
if [[ -x $bench ]]; then
  stage "embedding throughput (ResNet-50, batch 256)" 200 "$OUT/bench.log" -- "$bench" --device cuda \
    --batch 256 --batches 30 --images "$images" --workers 14 --precisions fp32,tf32,bf16,fp16 --source tensors,jpeg
  grep -E "^(tensors|jpeg)|LibTorch" "$OUT/bench.log" >>"$summary"
fi

cli=build-gpu/imret
if [[ -x $cli ]]; then
  demo=/tmp/demo-cuda
  stage "demo on CUDA" 90 "$OUT/demo.log" -- "$cli" -q demo --device cuda --out "$demo"
  checkpoint=$(ls "$demo"/checkpoints/best.safetensors 2>/dev/null | head -1)
  for precision in fp32 bf16; do
    [[ -n $checkpoint ]] || break
    for split in train test; do
      stage "embed $split $precision" 40 "$OUT/quality.log" -- "$cli" -q embed -c "$checkpoint" --split "$split" \
        --device cuda --precision "$precision" -o "/tmp/q-$precision/$split"
    done
    stage "evaluate $precision" 40 "$OUT/quality.log" -- "$cli" evaluate --database "/tmp/q-$precision/train" \
      --queries "/tmp/q-$precision/test" --out "/tmp/q-$precision/eval"
    python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['retrieval']; print('$precision mAP', r['mAP'], 'mAP@R', r['mAP@R'])" \
      "/tmp/q-$precision/eval/metrics.json" >>"$summary" 2>&1
  done
fi

train_bench=build-gpu/bench/imret_bench_train_throughput
[[ -x $train_bench ]] && stage "semi-hard triplet step (CUDA)" 60 "$OUT/train_bench.log" -- "$train_bench" \
  --device cuda --batches 200 --rounds 2 --method triplet --miner semi-hard
grep -E "img/s|ratio" "$OUT/train_bench.log" >>"$summary" 2>/dev/null
say "done"
