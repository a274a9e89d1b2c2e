# The main job end to end on the real Fashion-MNIST: `imret demo --quick`
# trains, embeds, evaluates; then embed/evaluate/search run on its outputs.
source "$(dirname "$0")/lib/common.sh"
run="$work/run"
"$IMRET" --threads 2 demo --quick --out "$run" >"$work/demo.out" 2>"$work/demo.err" ||
  fail "demo failed: $(tail -5 "$work/demo.err")"

for f in config.yaml train_log.csv metrics.json pr_curve.csv checkpoints/best.safetensors checkpoints/best.json \
         checkpoints/last.safetensors checkpoints/last.optim.pt embeddings/database/embeddings.npy \
         embeddings/database/items.jsonl embeddings/queries/embeddings.npy embeddings/queries/items.jsonl; do
  [[ -s "$run/$f" ]] || fail "demo did not write $f"
done
# With plots (cairo), the demo ends with its report, grids included: the quick
# demo embeds a part of the data, whose items are found again by their source.
if grep -q "^IMRET_WITH_CAIRO:BOOL=ON" "$IMRET_BUILD_DIR/CMakeCache.txt"; then
  for f in index.html map-pca.png map-tsne.png map-umap.png grid-random.png grid-best.png grid-worst.png; do
    [[ -s "$run/report/$f" ]] || fail "the demo's report lacks $f: $(grep -i warn "$work/demo.err" | head -3)"
  done
fi
# No temporary files left behind.
leftovers=$(find "$run" -name '.*.tmp-*' | wc -l)
[[ $leftovers -eq 0 ]] || fail "temporary files left in the run directory"

queries=$(json_value "$run/metrics.json" 'j["queries"]')
database=$(json_value "$run/metrics.json" 'j["database"]')
[[ $queries -eq 1000 && $database -eq 10000 ]] || fail "quick demo: $queries queries, $database database items"
p1=$(json_value "$run/metrics.json" 'j["retrieval"]["P@K"]["1"]')
map=$(json_value "$run/metrics.json" 'j["retrieval"]["mAP"]')
# One epoch on 6k images: a working pipeline is far above chance (0.1).
/usr/bin/python3 -c "import sys; p1, m = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if p1 > 0.7 and m > 0.4 else 1)" "$p1" "$map" ||
  fail "quick demo quality too low: P@1 $p1, mAP $map"
grep -q "mAP" "$work/demo.out" || fail "demo did not print the metrics table"

# imret evaluate on the demo's embeddings reproduces the demo's metrics.json.
metric=$(json_value "$run/metrics.json" 'j["metric"]')
"$IMRET" evaluate -q "$run/embeddings/queries" -d "$run/embeddings/database" --metric "$metric" -o "$work/eval" >"$work/eval.out"
same=$(/usr/bin/python3 -c "
import json, sys
a = json.load(open(sys.argv[1]))['retrieval']; b = json.load(open(sys.argv[2]))['retrieval']
print(int(abs(a['mAP'] - b['mAP']) < 1e-12))" "$run/metrics.json" "$work/eval/metrics.json")
[[ $same -eq 1 ]] || fail "imret evaluate does not reproduce the demo's mAP"

# imret embed with the checkpoint gives the demo's query embeddings again.
"$IMRET" embed -c "$run/checkpoints/best.safetensors" --split test -o "$work/test-emb" >"$work/embed.out" 2>/dev/null
rows=$(/usr/bin/python3 -c "import numpy as np, sys; print(np.load(sys.argv[1]).shape[0])" "$work/test-emb/embeddings.npy")
[[ $rows -eq 10000 ]] || fail "embed wrote $rows rows, expected 10000"

# imret search: k results per query, the query's own class marked.
"$IMRET" search -d "$run/embeddings/database" -q "$run/embeddings/queries" --first 2 -k 3 --json >"$work/search.json"
n=$(json_value "$work/search.json" 'sum(len(q["results"]) for q in j)')
[[ $n -eq 6 ]] || fail "search returned $n results, expected 6"
# imret search --image: test image 0 written as a PNG file gives the same
# neighbours and distances as its embedding from imret embed.
/usr/bin/python3 - "$work/query.png" <<'PY'
import gzip, struct, sys, zlib
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()[16:16 + 784]
rows = b"".join(b"\0" + raw[r * 28:(r + 1) * 28] for r in range(28))
chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + \
      chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open(sys.argv[1], "wb").write(png)
PY
"$IMRET" search -d "$run/embeddings/database" --image "$work/query.png" -k 5 --metric "$metric" --json >"$work/by-image.json"
"$IMRET" search -d "$run/embeddings/database" -q "$work/test-emb" --first 1 -k 5 --metric "$metric" --json >"$work/by-embedding.json"
# same_results A.json B.json: the first query's results have the same ids and scores (to 1e-4).
same_results() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(f))[0]["results"] for f in sys.argv[1:3])
assert [r["id"] for r in a] == [r["id"] for r in b], (a, b)
score = "distance" if "distance" in a[0] else "similarity"
assert all(abs(x[score] - y[score]) < 1e-4 for x, y in zip(a, b)), (a, b)
PY
}
same_results "$work/by-image.json" "$work/by-embedding.json" || fail "search --image differs from search by embedding"
expect_error 1 "missing.png" -- "$IMRET" search -d "$run/embeddings/database" --image "$work/missing.png"
# A saved index embeds query images with the network its manifest records.
"$IMRET" index build "$run/embeddings/database" -o "$work/index" --metric "$metric" 2>/dev/null
"$IMRET" index search "$work/index" --image "$work/query.png" -k 5 --json >"$work/index-by-image.json"
same_results "$work/index-by-image.json" "$work/by-image.json" || fail "index search --image differs from search --image"
echo "demo_quick: P@1 $p1, mAP $map"
