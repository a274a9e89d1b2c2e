# Command-line conventions: unknown sub-commands get the closest name, global
# options work after the sub-command too, --threads is checked, FAISS failures
# are one line in a user's terms, and a k above the database size is noted.
source "$(dirname "$0")/lib/common.sh"

# expect_one_line EXIT_CODE LINE -- command...: stderr is exactly LINE.
expect_one_line() {
  local code=$1 line=$2
  shift 3
  expect_error "$code" "" -- "$@"
  [[ $(cat "$work/err") == "$line" ]] || fail "'$*' printed '$(cat "$work/err")', expected '$line'"
}

# 1. Unknown sub-commands, at every level.
expect_one_line 2 "imret: error: unknown sub-command 'trian' (did you mean 'train'?)" -- "$IMRET" trian
expect_one_line 2 "imret: error: unknown sub-command 'index biuld' (did you mean 'index build'?)" -- \
  "$IMRET" index biuld "$work/x"
expect_one_line 2 "imret: error: unknown sub-command 'coco sinth' (did you mean 'coco synth'?)" -- "$IMRET" coco sinth
expect_one_line 2 "imret: error: unknown sub-command 'serch' (did you mean 'search'?)" -- "$IMRET" --threads 1 serch
expect_error 2 "unknown sub-command 'xyzzy' \(expected one of: train, embed, search, index, " -- "$IMRET" xyzzy
expect_error 2 "^imret: error: index: a sub-command is required \(one of: build, " -- "$IMRET" index
"$IMRET" index --help >/dev/null || fail "index --help failed"

/usr/bin/python3 - "$work" <<'PY'
import json, os, sys, numpy as np
work = sys.argv[1]
rng = np.random.default_rng(0)
def write(folder, n):
    os.makedirs(folder)
    np.save(f"{folder}/embeddings.npy", rng.normal(size=(n, 16)).astype(np.float32))
    with open(f"{folder}/items.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"index": i, "source": f"item{i}", "label": i % 3, "class": f"c{i % 3}"}) + "\n")
write(f"{work}/db", 100)
write(f"{work}/db12", 12)
write(f"{work}/q", 5)
PY

# 2. Global options after the sub-command, nested ones included; a
# sub-command's own option of the same name wins (-q is --queries in search).
"$IMRET" search -d "$work/db" -q "$work/q" -k 3 --json --threads 2 --log-level warn >"$work/s.json" ||
  fail "search with --threads after the sub-command failed"
[[ $(json_value "$work/s.json" 'len(j)') == 5 ]] || fail "-q after search is not --queries"
"$IMRET" index build "$work/db" -o "$work/idx" -q --threads 1 >/dev/null || fail "index build ... -q --threads 1 failed"
"$IMRET" index search "$work/idx" -q "$work/q" -k 2 --quiet --threads 1 --json >"$work/i.json" ||
  fail "index search ... --quiet --threads 1 failed"
[[ $(json_value "$work/i.json" 'len(j)') == 5 ]] || fail "index search -q is not --queries"
expect_error 2 "^imret: error: --threads 0: " -- "$IMRET" index search "$work/idx" -q "$work/q" --threads 0

# 3. --threads: 1 to 4 x the cores; the data loader's workers 0 to the same.
cores=$(/usr/bin/python3 -c "import os; print(os.cpu_count())")
range="expected 1 to $((4 * cores)) \(up to 4 x the $cores cores\)$"
expect_error 2 "^imret: error: --threads 0: $range" -- "$IMRET" --threads 0 search -d "$work/db" -q "$work/q"
expect_error 2 "^imret: error: --threads -2: $range" -- "$IMRET" --threads -2 search -d "$work/db" -q "$work/q"
expect_error 2 "^imret: error: --threads 99999: $range" -- "$IMRET" search -d "$work/db" -q "$work/q" --threads 99999
"$IMRET" --threads $((4 * cores)) search -d "$work/db" -q "$work/q" >/dev/null || fail "--threads 4 x cores refused"
expect_error 2 "workers -1: expected 0 to $((4 * cores)) " -- "$IMRET" train --out "$work/run" --workers -1
[[ ! -e "$work/run" ]] || fail "a refused train wrote $work/run"

# 4. FAISS failures: one line naming the index, no FAISS internals, no crash.
if grep -q "IMRET_WITH_FAISS:BOOL=ON" "${IMRET_BUILD_DIR:?}/CMakeCache.txt"; then
  faiss_error() {  # EXIT_CODE PATTERN SPEC
    expect_error "$1" "$2" -- "$IMRET" search -d "$work/db" -q "$work/q" --index "faiss:$3"
    ! grep -qE "Error in|\.cpp|faiss::|' failed" "$work/err" || fail "faiss:$3 leaks FAISS internals: $(cat "$work/err")"
  }
  faiss_error 1 "faiss:IVF256,Flat: 100 training vectors are too few to train its 256 k-means centroids" "IVF256,Flat"
  faiss_error 1 "faiss:HNSW8_PQ4: 100 training vectors are too few to train its 256 k-means centroids" "HNSW8_PQ4"
  faiss_error 2 "faiss:Bogus: not a valid FAISS index_factory string for 16-d vectors: FAISS cannot parse it" "Bogus"
  faiss_error 2 "faiss:IVF4,PQ5: product quantization cannot split 16-d vectors into PQ5's sub-vectors" "IVF4,PQ5"
  faiss_error 2 "faiss:PQ0: a size of 0" "PQ0"  # FAISS itself divides by zero
  faiss_error 2 "faiss:IVF0,Flat: a size of 0" "IVF0,Flat"  # FAISS itself aborts on an assertion
fi

# 5. k above the database: noted once, each query gets the 12 there are.
note="k 50 is more than the 12 database items: each query gets at most 12"
"$IMRET" search -d "$work/db12" -q "$work/q" -k 50 --json >"$work/k.json" 2>"$work/k.err" || fail "search -k 50 failed"
[[ $(grep -c "$note" "$work/k.err") == 1 ]] || fail "search -k 50 did not note it: $(cat "$work/k.err")"
[[ $(json_value "$work/k.json" 'sorted({len(r["results"]) for r in j})') == "[12]" ]] || fail "search -k 50 results"
"$IMRET" index build "$work/db12" -o "$work/idx12" >/dev/null 2>&1
"$IMRET" index search "$work/idx12" -q "$work/q" -k 50 >/dev/null 2>"$work/k.err" || fail "index search -k 50 failed"
grep -q "$note" "$work/k.err" || fail "index search -k 50 did not note it: $(cat "$work/k.err")"
"$IMRET" compare-search -d "$work/db12" -q "$work/q" --index exact -k 50 >/dev/null 2>"$work/k.err" ||
  fail "compare-search -k 50 failed: $(cat "$work/k.err")"
grep -q "$note" "$work/k.err" || fail "compare-search -k 50 did not note it: $(cat "$work/k.err")"
"$IMRET" search -d "$work/db12" -q "$work/q" -k 50 --log-level error >/dev/null 2>"$work/k.err"
[[ ! -s "$work/k.err" ]] || fail "--log-level error after the sub-command did not apply: $(cat "$work/k.err")"
"$IMRET" search -d "$work/db12" -q "$work/q" -k 12 >/dev/null 2>"$work/k.err"
[[ ! -s "$work/k.err" ]] || fail "search -k 12 of 12 noted something: $(cat "$work/k.err")"
echo "cli_conventions: ok"
