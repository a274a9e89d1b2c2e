# Shared by the GPU checks (check.sh, detect_check.sh), sourced after setting
# `budget` (seconds for the whole check); run from the repository root (or a
# snapshot of it, with IMRET_GPU=<the .gpu folder>).
#   say TEXT...                       a line with the elapsed time, into $OUT/summary.txt too
#   stage NAME LIMIT LOG -- command   runs a stage within its limit and what is left of the budget
#   use_python_with "MODULES"         makes /usr/bin/python3 (what tests and benches call) a
#                                     Python that imports MODULES, if it is not one already
#   configure_gpu_build [CMAKE ARGS]  the configure stage: the machine's CUDA LibTorch, the
#                                     libraries from .gpu/, OpenCV and FAISS off
start=$SECONDS
left() { echo $((budget - (SECONDS - start))); }
OUT=${OUT:-/tmp/imret-gpu}
mkdir -p "$OUT"
summary=$OUT/summary.txt
say() { echo "[$((SECONDS - start)) s] $*" | tee -a "$summary"; }
stage() {  # stage NAME LIMIT LOG -- command...
  local name=$1 limit=$2 log=$3
  shift 4
  (( limit > $(left) )) && limit=$(left)
  if (( limit < 10 )); then say "$name: skipped, no time left"; return 1; fi
  local status=0
  timeout "$limit" "$@" >>"$log" 2>&1 || status=$?
  say "$name: exit $status (limit $limit s)"
  return $status
}

root=$(pwd)
gpu_dir=${IMRET_GPU:-$root/.gpu}
prefix=$gpu_dir/prefix/usr
arch=x86_64-linux-gnu
export LD_LIBRARY_PATH=$prefix/lib/$arch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

use_python_with() {
  local python
  python=$(command -v python3)
  if [[ $python != /usr/bin/python3 ]] && ! /usr/bin/python3 -c "import $1" 2>/dev/null; then
    [[ -e /usr/bin/python3 ]] && mv /usr/bin/python3 /usr/bin/python3.system
    printf '#!/bin/sh\nexec %s "$@"\n' "$python" >/usr/bin/python3
    chmod +x /usr/bin/python3
  fi
  {
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
    g++ --version | head -1
    cmake --version | head -1
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cxx11 abi", torch._C._GLIBCXX_USE_CXX11_ABI)'
    python3 -c 'import torchvision; print("torchvision", torchvision.__version__)' || echo "torchvision: missing"
    nproc
  } >"$OUT/machine.txt" 2>&1
  say "machine: $(tr '\n' ' ' <"$OUT/machine.txt")"
}

configure_gpu_build() {
  local torch_prefix
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  stage configure 120 "$OUT/build.log" -- cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DIMRET_WITH_OPENCV=OFF -DIMRET_WITH_FAISS=OFF "$@" -DCMAKE_PREFIX_PATH="$torch_prefix" \
    -Dnlohmann_json_DIR="$prefix/share/cmake/nlohmann_json" -DCLI11_DIR="$prefix/share/cmake/CLI11" \
    -Dyaml-cpp_DIR="$prefix/lib/$arch/cmake/yaml-cpp" -Dspdlog_DIR="$prefix/lib/$arch/cmake/spdlog" \
    -Dfmt_DIR="$prefix/lib/$arch/cmake/fmt" -DGTest_DIR="$prefix/lib/$arch/cmake/GTest" \
    -Dsimdjson_DIR="$prefix/lib/$arch/cmake/simdjson" \
    -DZLIB_INCLUDE_DIR="$prefix/include" -DZLIB_LIBRARY="$prefix/lib/$arch/libz.a"
}
