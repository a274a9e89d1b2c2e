# imret grid and imret report on a run folder made of real Fashion-MNIST
# items embedded as their pixels (no training needed): the grids show the
# brute-force top K, the pages link only to files that exist, bad input gets
# one line and leaves the earlier report alone.
source "$(dirname "$0")/lib/common.sh"
run="$work/run"

/usr/bin/python3 - "$run" <<'PY'
import gzip, json, os, sys
import numpy as np
run = sys.argv[1]
root = "/usr/share/datasets/fashion-mnist"
classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
for split, prefix, count in (("test", "t10k", 200), ("train", "train", 1000)):
    images = np.frombuffer(gzip.open(f"{root}/{prefix}-images-idx3-ubyte.gz").read()[16:], np.uint8).reshape(-1, 784)
    labels = np.frombuffer(gzip.open(f"{root}/{prefix}-labels-idx1-ubyte.gz").read()[8:], np.uint8)
    folder = f"{run}/embeddings/{'queries' if split == 'test' else 'database'}"
    os.makedirs(folder)
    np.save(f"{folder}/embeddings.npy", (images[:count] / 255.0).astype(np.float32))
    with open(f"{folder}/items.jsonl", "w") as f:
        for i in range(count):
            f.write(json.dumps({"index": i, "source": f"{root}/{prefix}-images-idx3-ubyte.gz#{i}",
                                "label": int(labels[i]), "class": classes[labels[i]]}) + "\n")
    json.dump({"data": root, "split": split, "classes": classes}, open(f"{folder}/meta.json", "w"))
with open(f"{run}/train_log.csv", "w") as f:
    f.write("epoch,lr,train_loss,val_precision_at_1,val_map_at_r\n1,0.001,0.9,0.6,0.3\n2,0.001,0.5,0.7,0.4\n")
with open(f"{run}/config.yaml", "w") as f:
    f.write("command: demo\ntrain:\n  epochs: 2\n  method: classification\n")
PY
"$IMRET" evaluate -q "$run/embeddings/queries" -d "$run/embeddings/database" --metric euclidean -o "$run" >/dev/null

# imret grid: the results of each query are numpy's brute-force nearest items.
"$IMRET" grid "$run" -k 4 -n 3 --select random,best,worst >"$work/grid.out" 2>"$work/grid.err" ||
  fail "imret grid failed: $(cat "$work/grid.err")"
for s in random best worst; do [[ -s $run/grids/grid-$s.png ]] || fail "imret grid did not write grid-$s.png"; done
/usr/bin/python3 - "$run" <<'PY' || fail "imret grid does not show the brute-force top K"
import json, sys
import numpy as np
run = sys.argv[1]
q = np.load(f"{run}/embeddings/queries/embeddings.npy").astype(np.float64)
d = np.load(f"{run}/embeddings/database/embeddings.npy").astype(np.float64)
ql = [json.loads(l)["label"] for l in open(f"{run}/embeddings/queries/items.jsonl")]
dl = np.array([json.loads(l)["label"] for l in open(f"{run}/embeddings/database/items.jsonl")])
grids = json.load(open(f"{run}/grids/grids.json"))
assert grids["metric"] == "euclidean", grids["metric"]
ap = []
for i in range(len(q)):
    order = np.argsort(((d - q[i]) ** 2).sum(1), kind="stable")
    hits = (dl[order] == ql[i]).astype(float)
    ap.append((np.cumsum(hits) / np.arange(1, len(d) + 1))[hits == 1].mean())
for name, shown in grids["selections"].items():
    assert len(shown) == 3, (name, len(shown))
    for entry in shown:
        i = entry["query"]
        dist = np.sqrt(((d - q[i]) ** 2).sum(1))
        order = np.argsort(dist, kind="stable")[:4]
        assert [r["row"] for r in entry["results"]] == order.tolist(), (name, i, entry["results"], order)
        assert all(abs(r["score"] - dist[o]) < 1e-3 for r, o in zip(entry["results"], order))
        assert all(r["correct"] == (dl[o] == ql[i]) for r, o in zip(entry["results"], order))
        # imret ranks in float32: database items whose distances differ by a few float32 ulps (this
        # data has pairs 3e-5 apart at 90) may swap, which moves the AP by ~1e-6.
        assert abs(entry["average_precision"] - ap[i]) < 1e-5, (entry["average_precision"], ap[i])
best = sorted(range(len(q)), key=lambda i: -ap[i])[:3]
assert [e["query"] for e in grids["selections"]["best"]] == best, best
PY

# imret visualize --thumbnails draws the items' images over the map.
"$IMRET" -q visualize "$run/embeddings/queries" -m pca --format png -o "$work/plain" >/dev/null
"$IMRET" -q visualize "$run/embeddings/queries" -m pca --format png -o "$work/thumbs" --thumbnails 12 >/dev/null
cmp -s "$work/plain/pca.csv" "$work/thumbs/pca.csv" || fail "--thumbnails changed the map"
! cmp -s "$work/plain/pca.png" "$work/thumbs/pca.png" || fail "--thumbnails drew no thumbnails"

# imret report of one run: every picture and link it names exists.
"$IMRET" report "$run" --map-sample 150 >"$work/report.out" 2>"$work/report.err" ||
  fail "imret report failed: $(cat "$work/report.err")"
page="$run/report/index.html"
[[ -s $page ]] || fail "imret report did not write report/index.html"
links_resolve() {
  /usr/bin/python3 - "$1" <<'PY'
import os, re, sys, urllib.parse
page = sys.argv[1]
html = open(page).read()
targets = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
assert targets, "no links"
missing = [t for t in targets if not os.path.exists(os.path.join(os.path.dirname(page), urllib.parse.unquote(t)))]
assert not missing, missing
PY
}
links_resolve "$page" || fail "report/index.html links to missing files"
for f in map-pca.png map-tsne.png grid-random.png grid-best.png grid-worst.png precision-recall.png training-loss.png; do
  grep -q "src=\"$f\"" "$page" || fail "the report does not show $f"
done
map=$(json_value "$run/metrics.json" '"%.4f" % j["retrieval"]["mAP"]')
grep -q "<td>mAP</td><td class=\"num\">$map</td>" "$page" || fail "the report's mAP is not metrics.json's $map"
grep -q "method: classification" "$page" || fail "the report does not show config.yaml"

# Two runs: a comparison page and one page per run.
"$IMRET" report "$run" "$run" --names first,second -o "$work/compare" --maps pca --grids random >/dev/null 2>&1 ||
  fail "imret report of two runs failed"
for p in index.html runs/first/index.html runs/second/index.html; do
  [[ -s $work/compare/$p ]] || fail "the comparison did not write $p"
  links_resolve "$work/compare/$p" || fail "$p links to missing files"
done
grep -q "<td>first</td>" "$work/compare/index.html" || fail "the comparison table lacks the first run"

# Bad input: one line, and the earlier report stays as it was.
cp "$page" "$work/page.before"
expect_error 2 "several runs" -- "$IMRET" report "$run" "$run"
expect_error 2 "--maps lle" -- "$IMRET" report "$run" --maps pca,lle
expect_error 2 "--grids median" -- "$IMRET" report "$run" --grids median
expect_error 2 "-k must be 1 to 100" -- "$IMRET" report "$run" -k 0
expect_error 2 "named 'run'" -- "$IMRET" report "$run" "$run" -o "$work/x"
expect_error 1 "$work/nothing" -- "$IMRET" report "$work/nothing"
expect_error 2 "both --queries and --database" -- "$IMRET" grid --queries "$run/embeddings/queries"
expect_error 2 "unknown selection \"median\"" -- "$IMRET" grid "$run" --select median
echo '{"retrieval": ' >"$run/metrics.json"
expect_error 1 "$run/metrics.json: malformed JSON" -- "$IMRET" report "$run"
cmp -s "$page" "$work/page.before" || fail "a failed report changed the earlier one"
[[ $(find "$run" -name '.*.tmp-*' | wc -l) -eq 0 ]] || fail "temporary files left behind"
echo "report_cairo: ok"
