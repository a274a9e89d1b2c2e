# Kill -9 at every commit point (each rename, folder swap and checkpoint-unit
# step; IMRET_FAULT_AT=N, core/fault_injection.hpp) of embed, index build and
# train, and check after each kill that the previous output is intact or the
# new one complete, that readers accept what is there, and that a rerun
# succeeds and leaves no temporary file.
source "$(dirname "$0")/lib/common.sh"
lib=$(dirname "$0")/lib
mkdir -p "$work/data"
/usr/bin/python3 "$lib/small_mnist.py" "$work/data" 300 120
same() { /usr/bin/python3 "$lib/same_folder.py" "$1" "$2"; }
run() { "$IMRET" -q --threads 2 "$@"; }
killed() { grep -q "fault injection: killed at commit point" "$1"; }
no_temporaries() {  # no staging, old, lock or temporary entry under or beside $1
  local found
  found=$(find "$(dirname "$1")" -name '.*.imret-staging-*' -o -name '.*.imret-old-*' -o -name '.*.imret-lock' \
    -o -name '.*.tmp-*' -o -name '.*.new' -o -name '.*.prev.pt*' | head -3)
  [[ -z $found ]] || fail "temporary entries left: $found"
}
train=(--data "$work/data" --limit 300 --batch-size 100 --val-fraction 0.2 --workers 0)
# The epoch a checkpoint holds, from its own description (the .json beside it is a copy written after it).
epoch_of() {
  /usr/bin/python3 -c "import json,struct,sys; f=open(sys.argv[1],'rb'); n=struct.unpack('<Q',f.read(8))[0]; \
print(json.loads(json.loads(f.read(n))['__metadata__']['imret'])['epoch'])" "$1"
}

# Two networks: old and new outputs must be told apart.
run train "${train[@]}" --epochs 1 --seed 1 -o "$work/run1" >/dev/null || fail "train run1 failed"
run train "${train[@]}" --epochs 1 --seed 2 -o "$work/run2" >/dev/null || fail "train run2 failed"
embed() { run embed -c "$1" --data "$work/data" --split test --workers 0 -o "$2"; }
embed "$work/run1/checkpoints/best.safetensors" "$work/emb_old" >/dev/null || fail "embed old failed"
embed "$work/run2/checkpoints/best.safetensors" "$work/emb_new" >/dev/null || fail "embed new failed"

# A command over a folder holding its previous output, killed at commit point
# 1, 2, ... until it runs to the end. After each kill: the folder is the old
# output or the new one; `check FOLDER` (a reader) accepts it; a rerun gives
# the new output.
#   faults NAME OLD NEW CHECK -- COMMAND... (COMMAND writes $out)
faults() {
  local name=$1 old=$2 new=$3 check=$4
  shift 5
  local n=1
  while :; do
    rm -rf "$work/f" && mkdir -p "$work/f" && cp -a "$old" "$work/f/out"
    out="$work/f/out"
    local status=0
    IMRET_FAULT_AT=$n "$@" >"$work/f.out" 2>"$work/f.err" || status=$?
    if ! killed "$work/f.err"; then
      [[ $status -eq 0 ]] || fail "$name without a kill failed: $(cat "$work/f.err")"
      same "$out" "$new" || fail "$name: the finished output differs from the reference"
      break
    fi
    [[ $status -eq 137 ]] || fail "$name killed at point $n exited $status"
    if ! same "$out" "$old" >/dev/null && ! same "$out" "$new" >/dev/null; then
      fail "$name killed at point $n ($(grep -o 'commit point.*' "$work/f.err")): the folder is neither the old output nor the new one: $(same "$out" "$old")"
    fi
    $check "$out" >/dev/null 2>"$work/check.err" || fail "$name killed at point $n: a reader refuses what is left: $(cat "$work/check.err")"
    "$@" >/dev/null 2>"$work/rerun.err" || fail "$name killed at point $n: the rerun failed: $(cat "$work/rerun.err")"
    same "$out" "$new" || fail "$name killed at point $n: the rerun's output differs from the reference"
    no_temporaries "$out"
    n=$((n + 1))
  done
  ((n > 3)) || fail "$name passed only $((n - 1)) commit points: is fault injection wired in?"
  echo "$name: killed at each of $((n - 1)) commit points, the output was always whole"
}

check_embeddings() { run evaluate -q "$1" -d "$1" --exclude-self --knn 0 -o "$work/f/eval"; }
faults embed "$work/emb_old" "$work/emb_new" check_embeddings -- \
  embed "$work/run2/checkpoints/best.safetensors" "$work/f/out"

run index build "$work/emb_old" -o "$work/index_old" >/dev/null 2>&1 || fail "index build old failed"
run index build "$work/emb_new" -o "$work/index_new" >/dev/null 2>&1 || fail "index build new failed"
# The index records its source folder: build the references from the same path.
cp -a "$work/index_new" "$work/index_ref"
check_index() { run index info "$1"; }
faults "index build" "$work/index_old" "$work/index_new" check_index -- \
  run index build "$work/emb_new" -o "$work/f/out" --overwrite

# Training: resume a 1-epoch run to 2 epochs, killed at each point of the
# epoch's checkpoint unit. After a kill, the checkpoint and its optimizer
# state must still pair up (the resume accepts them) and the rerun finishes.
n=1
while :; do
  rm -rf "$work/t" && mkdir -p "$work/t" && cp -a "$work/run1" "$work/t/run"
  status=0
  IMRET_FAULT_AT=$n run train "${train[@]}" --epochs 2 --seed 1 --resume "$work/t/run/checkpoints/last.safetensors" \
    >"$work/t.out" 2>"$work/t.err" || status=$?
  point=$(grep -o 'commit point.*' "$work/t.err" || true)
  if ! killed "$work/t.err"; then
    [[ $status -eq 0 ]] || fail "train --resume without a kill failed: $(cat "$work/t.err")"
    break
  fi
  epoch=$(epoch_of "$work/t/run/checkpoints/last.safetensors")
  [[ $epoch == 1 || $epoch == 2 ]] || fail "train killed at $point: last.json says epoch $epoch"
  run embed -c "$work/t/run/checkpoints/best.safetensors" --data "$work/data" --split test --workers 0 \
    -o "$work/t/emb" >/dev/null 2>"$work/t.check" || fail "train killed at $point: best.safetensors unreadable: $(cat "$work/t.check")"
  # Resume it again: to epoch 2 when the kill came before the epoch-2 checkpoint, else on to epoch 3.
  want=$((epoch + 1))
  run train "${train[@]}" --epochs $want --seed 1 --resume "$work/t/run/checkpoints/last.safetensors" \
    >/dev/null 2>"$work/t.rerun" || fail "train killed at $point: the resume failed: $(cat "$work/t.rerun")"
  [[ $(epoch_of "$work/t/run/checkpoints/last.safetensors") == "$want" ]] || fail "train killed at $point: not at epoch $want after the rerun"
  [[ $(json_value "$work/t/run/checkpoints/last.json" "j['epoch']") == "$want" ]] || fail "train killed at $point: last.json lags"
  grep -q "^$want," "$work/t/run/train_log.csv" || fail "train killed at $point: train_log.csv lacks epoch $want"
  [[ $(json_value "$work/t/run/.imret-folder.json" "j['complete']") == True ]] || fail "train killed at $point: the rerun left the run marked incomplete"
  no_temporaries "$work/t/run"
  n=$((n + 1))
done
((n > 5)) || fail "train passed only $((n - 1)) commit points"
echo "train --resume: killed at each of $((n - 1)) commit points, the run could always go on"

# A checkpoint and an optimizer state of different epochs are refused, not mixed.
cp -a "$work/run1" "$work/mixed"
run train "${train[@]}" --epochs 2 --seed 1 --resume "$work/mixed/checkpoints/last.safetensors" >/dev/null 2>&1 ||
  fail "resume to epoch 2 failed"
cp "$work/run1/checkpoints/last.optim.pt" "$work/mixed/checkpoints/last.optim.pt"
expect_error 1 "last.safetensors: an epoch 2 checkpoint, but last.optim.pt is from epoch 1.*not saved together" -- \
  run train "${train[@]}" --epochs 3 --seed 1 --resume "$work/mixed/checkpoints/last.safetensors"
echo "fault_injection: ok"
