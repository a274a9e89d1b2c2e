#!/usr/bin/env bash
# Builds and runs imret's fuzzers (libFuzzer + AddressSanitizer + UBSan), one
# per parser (docs/fuzzing.md says what each covers):
#   pickle_fuzzer safetensors_fuzzer zip_fuzzer npy_fuzzer idx_fuzzer coco_json_fuzzer
#   yaml_config_fuzzer items_fuzzer index_manifest_fuzzer image_header_fuzzer
# Usage: fuzz/run.sh [SECONDS_PER_FUZZER (default 60)] [fuzzer names...]
#
# Each fuzzer compiles the parser sources it drives with the sanitizers and
# coverage; whatever else they call (LibTorch-side helpers, small core files)
# comes from the uninstrumented build/libimret.a, so imret must be built first
# (scripts/setup.sh). Environment: CXX_FUZZ (default clang++, through ccache
# when present), IMRET_LIBRARY (default build/libimret.a), IMRET_FUZZ_TMP
# (folder for the fuzzers' input files, default /dev/shm).
# Work folder: build/fuzz (objects, binaries, corpus/, artifacts/, <fuzzer>.log,
# summary.md). The fuzzers run nproc at a time. Seeds: fuzz/seeds/<fuzzer>/ (fuzz/make_seeds.py writes them).
# A crash, sanitizer report, timeout (> 10 s), out-of-memory (> 2 GB) or
# uncaught exception leaves build/fuzz/artifacts/<fuzzer>/* and makes this
# script exit 1; a summary table (executions, coverage, corpus, crashes) ends
# the output.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
fuzzers=("$@")
all=(pickle_fuzzer safetensors_fuzzer zip_fuzzer npy_fuzzer idx_fuzzer coco_json_fuzzer yaml_config_fuzzer
     items_fuzzer index_manifest_fuzzer image_header_fuzzer)
[[ ${#fuzzers[@]} -gt 0 ]] || fuzzers=("${all[@]}")
work=$root/build/fuzz
library=${IMRET_LIBRARY:-$root/build/libimret.a}
scratch=${IMRET_FUZZ_TMP:-/dev/shm}  # each fuzzer gets its own folder in it
mkdir -p "$work/obj"
if [[ -z ${CXX_FUZZ:-} ]]; then
  cxx=(clang++)
  command -v ccache >/dev/null && cxx=(ccache clang++)
else
  read -r -a cxx <<<"$CXX_FUZZ"
fi
[[ -f $library && -f $root/build/generated/imret/core/version.hpp ]] ||
  { echo "fuzz/run.sh: $library missing: build imret first (scripts/setup.sh)" >&2; exit 2; }

src=$root/src/imret
# The instrumented sources of each fuzzer (its entry point first).
declare -A sources=(
  [pickle_fuzzer]="fuzz/pickle_fuzzer.cpp $src/core/pth_parse.cpp $src/core/pickle.cpp $src/core/zip_archive.cpp"
  [safetensors_fuzzer]="fuzz/safetensors_fuzzer.cpp $src/core/safetensors.cpp"
  [zip_fuzzer]="fuzz/zip_fuzzer.cpp $src/core/zip_archive.cpp"
  [npy_fuzzer]="fuzz/npy_fuzzer.cpp $src/core/npy.cpp $src/core/atomic_file.cpp"
  [idx_fuzzer]="fuzz/idx_fuzzer.cpp $src/data/idx.cpp"
  [coco_json_fuzzer]="fuzz/coco_json_fuzzer.cpp $src/data/coco_annotations.cpp"
  [yaml_config_fuzzer]="fuzz/yaml_config_fuzzer.cpp $src/core/yaml.cpp $src/learn/train_config.cpp"
  [items_fuzzer]="fuzz/items_fuzzer.cpp $src/core/embedding_set.cpp $src/core/npy.cpp $src/core/object_counts.cpp"
  [index_manifest_fuzzer]="fuzz/index_manifest_fuzzer.cpp $src/search/index_store.cpp $src/core/embedding_set.cpp"
  [image_header_fuzzer]="fuzz/image_header_fuzzer.cpp $src/data/image_header.cpp"
)
# Inputs in JSON or YAML get a dictionary of their tokens and keys.
declare -A dictionaries=([coco_json_fuzzer]=json [items_fuzzer]=json [index_manifest_fuzzer]=json
                         [safetensors_fuzzer]=json [yaml_config_fuzzer]=yaml)
# Fuzzers that load LibTorch (not instrumented: its leaks are noise).
torch_fuzzers=" safetensors_fuzzer idx_fuzzer yaml_config_fuzzer index_manifest_fuzzer "

flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
       -D_GLIBCXX_USE_CXX11_ABI=1 -I "$root/src" -I "$root/build/generated" -isystem /usr/include/torch/csrc/api/include)
libraries=(-Wl,--as-needed "$library" -ltorch -ltorch_cpu -lc10 -lspdlog -lfmt -lyaml-cpp -lsimdjson -lz
           -lopencv_imgcodecs -lopencv_imgproc -lopencv_core /usr/lib/x86_64-linux-gnu/libfaiss.a -lblas -llapack
           -lgomp -lcairo -lpthread)

# The object of a source, rebuilt when the source or a header it includes changed.
object_of() { local rel=${1#"$root"/}; echo "$work/obj/${rel//\//_}.o"; }
stale() {
  local object=$1 source=$2
  [[ -f $object && -f $object.d ]] || return 0
  local dep
  for dep in $(sed -e 's/\\$//' -e 's/^[^:]*://' "$object.d"); do
    [[ $dep -nt $object ]] && return 0
  done
  return 1
}
compile() {
  local source=$1 object
  object=$(object_of "$source")
  stale "$object" "$source" || return 0
  echo "compiling ${source#"$root"/}"
  "${cxx[@]}" "${flags[@]}" -fsanitize=fuzzer-no-link -MMD -MF "$object.d" -c "$source" -o "$object"
}

# Fuzzers whose sources exist (the image header one comes with its parser).
selected=()
for fuzzer in "${fuzzers[@]}"; do
  [[ -n ${sources[$fuzzer]+set} ]] || { echo "unknown fuzzer $fuzzer (known: ${all[*]})" >&2; exit 2; }
  missing=""
  for source in ${sources[$fuzzer]}; do
    [[ $source == /* ]] || source=$root/$source
    [[ -f $source ]] || missing=$source
  done
  if [[ -n $missing ]]; then
    echo "skipping $fuzzer: ${missing#"$root"/} does not exist yet"
  else
    selected+=("$fuzzer")
  fi
done

# Compile every object once (shared between fuzzers), nproc at a time.
status=0
declare -A wanted=()
for fuzzer in "${selected[@]}"; do
  for source in ${sources[$fuzzer]}; do
    [[ $source == /* ]] || source=$root/$source
    wanted[$source]=1
  done
done
jobs=$(nproc)
for source in "${!wanted[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || status=2; done
  compile "$source" &
done
while (($(jobs -rp | wc -l) > 0)); do wait -n || status=2; done
((status == 0)) || { echo "fuzz/run.sh: compilation failed" >&2; exit 2; }

# Links (when needed) and runs one fuzzer; its summary row goes to build/fuzz/<fuzzer>.row.
fuzz_one() {
  local fuzzer=$1 source objects=()
  for source in ${sources[$fuzzer]}; do
    [[ $source == /* ]] || source=$root/$source
    objects+=("$(object_of "$source")")
  done
  local binary=$work/$fuzzer
  if [[ ! -x $binary || $library -nt $binary || -n $(find "${objects[@]}" -newer "$binary" | head -1) ]]; then
    echo "linking $fuzzer"
    clang++ "${flags[@]}" -fsanitize=fuzzer "${objects[@]}" "${libraries[@]}" -o "$binary" || return 2
  fi
  local corpus=$work/corpus/$fuzzer artifacts=$work/artifacts/$fuzzer log=$work/$fuzzer.log
  local tmp=$scratch/imret_fuzz_$fuzzer  # the fuzzer's input files
  rm -rf "$artifacts" "$tmp"  # crash files of an earlier run
  mkdir -p "$corpus" "$artifacts" "$tmp"
  local options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
                 -artifact_prefix="$artifacts/")
  [[ -n ${dictionaries[$fuzzer]+set} ]] && options+=(-dict="$root/fuzz/dicts/${dictionaries[$fuzzer]}.dict")
  local leaks=1
  [[ $torch_fuzzers == *" $fuzzer "* ]] && leaks=0
  echo "running $fuzzer for ${seconds}s"
  local rc=0
  IMRET_FUZZ_TMP=$tmp ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=$leaks} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$binary" "${options[@]}" "$corpus" "$root/fuzz/seeds/$fuzzer" >"$log" 2>&1 || rc=$?
  rm -rf "$tmp"
  local executions new_inputs coverage corpus_size crashes
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  new_inputs=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  coverage=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  corpus_size=$(find "$corpus" "$root/fuzz/seeds/$fuzzer" -type f | wc -l)
  crashes=$(find "$artifacts" -type f | wc -l)
  if ((rc != 0)); then
    ((crashes > 0)) || crashes=1
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*uncaught exception|.*terminate called)' "$log" | head -5 || true
    echo "$fuzzer FAILED (rc $rc): see $log and $artifacts/"
  fi
  echo "$fuzzer: ${executions:-?} executions, coverage ${coverage:-?} edges, corpus $corpus_size (${new_inputs:-?} new), $crashes crashes"
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$fuzzer" "$seconds" "${executions:-?}" "${coverage:-?}" \
    "$corpus_size" "${new_inputs:-?}" "$crashes" >"$work/$fuzzer.row"
  ((rc == 0))
}

# The fuzzers run nproc at a time (each is one process).
for fuzzer in "${selected[@]}"; do
  rm -f "$work/$fuzzer.row"
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || status=1; done
  fuzz_one "$fuzzer" &
done
while (($(jobs -rp | wc -l) > 0)); do wait -n || status=1; done

summary=$work/summary.md
{
  printf '| fuzzer | seconds | executions | coverage (edges) | corpus | new inputs | crashes |\n'
  printf '|---|---:|---:|---:|---:|---:|---:|\n'
  for fuzzer in "${selected[@]}"; do
    cat "$work/$fuzzer.row" 2>/dev/null || printf '| %s | %s | ? | ? | ? | ? | (did not run) |\n' "$fuzzer" "$seconds"
  done
} >"$summary"
echo
cat "$summary"
for fuzzer in "${selected[@]}"; do
  for artifact in "$work/artifacts/$fuzzer"/*; do
    [[ -f $artifact ]] && echo "crash artifact: $artifact (reproduce: $work/$fuzzer $artifact)"
  done
done
exit $status
