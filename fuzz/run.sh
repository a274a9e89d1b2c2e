#!/usr/bin/env bash
# Builds and runs imret's fuzzers (libFuzzer + AddressSanitizer + UBSan):
#   pickle_fuzzer       parse_pth: zip reader, legacy format, unpickler, tensor checks (no LibTorch)
#   safetensors_fuzzer  load_safetensors (links Debian's LibTorch)
# Usage: fuzz/run.sh [SECONDS_PER_FUZZER (default 60)] [fuzzer names...]
# Work folder: build/fuzz (binaries, corpora, crash artifacts). A crash leaves
# build/fuzz/artifacts/<fuzzer>/crash-* and makes this script exit 1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
fuzzers=("$@")
[[ ${#fuzzers[@]} -gt 0 ]] || fuzzers=(pickle_fuzzer safetensors_fuzzer)
work=$root/build/fuzz
mkdir -p "$work"
cxx=${CXX_FUZZ:-clang++}
flags=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I "$root/src" -I "$root/build/generated")

build() {
  local name=$1
  shift
  if [[ ! -x $work/$name || -n $(find "$root/fuzz" "$root/src/imret/core" -newer "$work/$name" -name '*.[ch]pp' | head -1) ]]; then
    echo "building $name"
    "$cxx" "${flags[@]}" "$@" -o "$work/$name"
  fi
}

# Seed corpora: small real files written by Debian's PyTorch.
seeds() {
  [[ -d $work/seeds/pickle_fuzzer && -d $work/seeds/safetensors_fuzzer ]] && return
  mkdir -p "$work/seeds/pickle_fuzzer" "$work/seeds/safetensors_fuzzer"
  /usr/bin/python3 - "$work/seeds" <<'PY'
import collections, json, struct, sys, torch
out = sys.argv[1]
base = torch.arange(12, dtype=torch.float32)
sd = collections.OrderedDict()
sd["w"] = torch.randn(2, 3)
sd["h"] = torch.ones(2).half()
sd["n"] = torch.tensor(7)
sd["m"] = torch.tensor([True, False])
sd["t"] = base.view(3, 4).t()
sd["s"] = base[4:]
sd["e"] = torch.empty(0)
sd["p"] = torch.nn.Parameter(torch.zeros(1))
for name, kw in [("zip", {}), ("legacy", {"_use_new_zipfile_serialization": False}),
                 ("zip_p4", {"pickle_protocol": 4}),
                 ("legacy_p4", {"_use_new_zipfile_serialization": False, "pickle_protocol": 4})]:
    torch.save(sd, f"{out}/pickle_fuzzer/{name}.pth", **kw)
torch.save({"model": sd, "epoch": 1, "nested": [torch.ones(1), {"x": torch.zeros(1)}]}, f"{out}/pickle_fuzzer/checkpoint.pth")
# safetensors, written by hand (the Python package is not installed).
def safetensors(path, tensors):
    header, data = {"__metadata__": {"format": "pt"}}, b""
    names = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.bool: "BOOL"}
    for k, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[k] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)
safetensors(f"{out}/safetensors_fuzzer/small.safetensors", {k: v.detach() for k, v in sd.items() if k not in ("e",)})
safetensors(f"{out}/safetensors_fuzzer/one.safetensors", {"x": torch.ones(3)})
PY
}

status=0
seeds
for fuzzer in "${fuzzers[@]}"; do
  case $fuzzer in
    pickle_fuzzer)
      build pickle_fuzzer "$root/fuzz/pickle_fuzzer.cpp" "$root/src/imret/core/pth_parse.cpp" \
        "$root/src/imret/core/pickle.cpp" "$root/src/imret/core/zip_archive.cpp" -lz ;;
    safetensors_fuzzer)
      build safetensors_fuzzer -D_GLIBCXX_USE_CXX11_ABI=1 -isystem /usr/include/torch/csrc/api/include \
        "$root/fuzz/safetensors_fuzzer.cpp" "$root/src/imret/core/safetensors.cpp" \
        "$root/src/imret/core/atomic_file.cpp" -ltorch -ltorch_cpu -lc10 ;;
    *) echo "unknown fuzzer $fuzzer" >&2; exit 2 ;;
  esac
  mkdir -p "$work/corpus/$fuzzer" "$work/artifacts/$fuzzer"
  echo "running $fuzzer for ${seconds}s"
  # Debian's LibTorch is not instrumented: leak reports from it are noise.
  leaks=1
  [[ $fuzzer == safetensors_fuzzer ]] && leaks=0
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=$leaks} "$work/$fuzzer" "$work/corpus/$fuzzer" "$work/seeds/$fuzzer" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$fuzzer/" >"$work/$fuzzer.log" 2>&1 || status=1
  rm -f "${IMRET_FUZZ_TMP:-/dev/shm}"/imret_fuzz_*.safetensors  # the safetensors fuzzer's input files
  tail -n 14 "$work/$fuzzer.log"
done
[[ -n $(find "$work/artifacts" -type f 2>/dev/null) ]] && echo "crash artifacts: $(find "$work/artifacts" -type f)" || true
exit $status
