# COCO object-based retrieval from data to metrics and grids, on a small
# synthetic COCO folder: imret coco synth writes the official structure (read
# back here with Python's json), imret coco stats counts what Python counts,
# train/embed carry each image's objects, imret evaluate's three relevance
# modes equal scikit-learn's average_precision_score / ndcg_score on the
# same ranking, the grids frame results by the chosen mode, and bad COCO
# input gets one line naming the file.
source "$(dirname "$0")/lib/common.sh"
coco="$work/coco"
"$IMRET" -q coco synth -o "$coco" --train-images 240 --val-images 120 --canvas 48 --seed 3 \
  --empty-fraction 0.05 --crowd-fraction 0.1 >"$work/synth.out" 2>"$work/synth.err" ||
  fail "coco synth failed: $(cat "$work/synth.err")"
[[ ! -e "$coco.partial" ]] || fail "coco synth left its partial folder behind"

# The official structure, category ids with gaps, crowd and empty images, the split file's rules.
/usr/bin/python3 - "$coco" <<'PY' || fail "the synthetic COCO folder is not what COCO looks like"
import json, os, sys
root = sys.argv[1]
ids = {}
for s in ("train2014", "val2014"):
    d = json.load(open(f"{root}/annotations/instances_{s}.json"))
    assert set(d) >= {"info", "licenses", "images", "annotations", "categories"}, set(d)
    cats = [c["id"] for c in d["categories"]]
    assert cats == sorted(cats) and cats[-1] > len(cats), cats          # ids with gaps
    for im in d["images"]:
        assert {"id", "file_name", "width", "height"} <= set(im)
        data = open(f"{root}/{s}/{im['file_name']}", "rb").read()
        assert data[:2] == b"\xff\xd8", im["file_name"]                # a JPEG
    for a in d["annotations"]:
        assert {"id", "image_id", "category_id", "bbox", "area", "iscrowd", "segmentation"} <= set(a)
        x, y, w, h = a["bbox"]
        assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 48 and y + h <= 48, a["bbox"]
        assert isinstance(a["segmentation"], dict) == bool(a["iscrowd"])
    with_objects = {a["image_id"] for a in d["annotations"]}
    assert len(with_objects) < len(d["images"]), "no image without objects"
    assert any(a["iscrowd"] for a in d["annotations"]), "no crowd annotation"
    ids[s] = {im["id"] for im in d["images"]}, with_objects
split = json.load(open(f"{root}/retrieval_split.json"))
images = {k: {i for v in split[k].values() for i in v} for k in split}
assert images["train"] == ids["train2014"][1], "train split = every train image with objects"
assert images["database"] < images["train"] and images["database"]
assert images["val"] | images["test"] <= ids["val2014"][1] and not images["val"] & images["test"]
PY

# imret coco stats counts objects as Python does (non-crowd instances; a crowd-only class counts once).
"$IMRET" -q coco stats --data "$coco" --split test >"$work/stats.out" || fail "coco stats failed"
/usr/bin/python3 - "$coco" "$work/stats.out" <<'PY' || fail "coco stats differs from Python: $(cat "$work/stats.out")"
import json, sys
root, out = sys.argv[1:]
d = json.load(open(f"{root}/annotations/instances_val2014.json"))
names = {c["id"]: c["name"] for c in d["categories"]}
test = {i for v in json.load(open(f"{root}/retrieval_split.json"))["test"].values() for i in v}
inst = {n: 0 for n in names.values()}
imgs = {n: 0 for n in names.values()}
per_image = {}
for a in d["annotations"]:
    if a["image_id"] in test:
        per_image.setdefault(a["image_id"], {}).setdefault(names[a["category_id"]], []).append(a["iscrowd"])
for objs in per_image.values():
    for n, crowd in objs.items():
        imgs[n] += 1
        inst[n] += max(1, crowd.count(0))
lines = open(out).read().splitlines()
assert lines[0].split(": ")[1].startswith(f"{len(test)} images, 0 without objects"), lines[0]
for line in lines[2:]:
    *name, i, n = line.split()
    name = " ".join(name)
    assert (int(i), int(n)) == (imgs[name], inst[name]), (line, imgs[name], inst[name])
PY

# Train a triplet network on the train split, embed the database and test splits.
run="$work/run"
"$IMRET" -q train --data "$coco" --split train --method triplet --epochs 1 --embedding-dim 16 \
  --classes-per-batch 4 --images-per-class 4 --resize 48 --crop 48 --workers 1 -o "$run" >"$work/train.out" \
  2>"$work/train.err" || fail "train on COCO failed: $(tail -3 "$work/train.err")"
for split in database test; do
  "$IMRET" -q embed -c "$run/checkpoints/best.safetensors" --data "$coco" --split $split \
    -o "$run/embeddings/$split" >/dev/null 2>"$work/embed.err" || fail "embed $split failed: $(cat "$work/embed.err")"
done
/usr/bin/python3 - "$coco" "$run/embeddings/test/items.jsonl" <<'PY' || fail "items.jsonl does not hold each image's objects"
import json, os, sys
root, items = sys.argv[1:]
d = json.load(open(f"{root}/annotations/instances_val2014.json"))
index = {c["id"]: k for k, c in enumerate(sorted(d["categories"], key=lambda c: c["id"]))}
by_file = {im["file_name"]: im["id"] for im in d["images"]}
counts = {}
for a in d["annotations"]:
    c = counts.setdefault(a["image_id"], {}).setdefault(index[a["category_id"]], [0, 0])
    c[a["iscrowd"]] += 1
for line in open(items):
    item = json.loads(line)
    want = sorted([k, max(1, n[0])] for k, n in counts[by_file[os.path.basename(item["source"])]].items())
    assert item["objects"] == want, (item, want)
PY

# The three modes equal scikit-learn on the same (cosine) ranking.
"$IMRET" -q evaluate -q "$run/embeddings/test" -d "$run/embeddings/database" --metric cosine -o "$run/eval" \
  --relevance weighted >"$work/eval.out" || fail "evaluate failed"
grep -q "selection" "$work/eval.out" && grep -q "aggregation" "$work/eval.out" && grep -q "weighted" "$work/eval.out" ||
  fail "evaluate does not show the three modes: $(cat "$work/eval.out")"
/usr/bin/python3 - "$run" <<'PY' || fail "the object modes differ from scikit-learn"
import json, sys
import numpy as np
from sklearn.metrics import average_precision_score, ndcg_score
run = sys.argv[1]
def load(split):
    e = np.load(f"{run}/embeddings/{split}/embeddings.npy").astype(np.float64)
    objs = [{k: n for k, n in json.loads(l)["objects"]} for l in open(f"{run}/embeddings/{split}/items.jsonl")]
    return e / np.linalg.norm(e, axis=1, keepdims=True), objs
q, qo = load("test")
d, do = load("database")
scores = (q @ d.T).astype(np.float32)
def gain(mode, a, b):
    if not a or not b: return 0.0
    if mode == "selection": return float(bool(set(a) & set(b)))
    if mode == "aggregation": return float(set(a) == set(b))
    keys = set(a) | set(b)
    return sum(min(a.get(k, 0), b.get(k, 0)) for k in keys) / sum(max(a.get(k, 0), b.get(k, 0)) for k in keys)
m = json.load(open(f"{run}/eval/metrics.json"))
assert m["relevance"] == "objects: weighted", m["relevance"]
for mode in ("selection", "aggregation", "weighted"):
    aps, ndcgs = [], []
    for i in range(len(q)):
        g = np.array([gain(mode, qo[i], b) for b in do])
        rel = (g >= 0.5) if mode == "weighted" else (g > 0)
        if rel.any(): aps.append(average_precision_score(rel, scores[i]))
        if g.any(): ndcgs.append(ndcg_score([g], [scores[i]], k=10))
    got = m["modes"][mode]
    assert abs(got["mAP"] - np.mean(aps)) < 1e-4, (mode, got["mAP"], np.mean(aps))
    assert abs(got["nDCG@K"]["10"] - np.mean(ndcgs)) < 1e-4, (mode, got["nDCG@K"], np.mean(ndcgs))
assert m["retrieval"]["mAP"] == m["modes"]["weighted"]["mAP"]
PY
for mode in selection aggregation weighted; do
  [[ -s "$run/eval/pr_curve_$mode.csv" ]] || fail "evaluate did not write pr_curve_$mode.csv"
done

# Grids: the objects of query and results, framed by the run's mode (weighted here).
cp "$run/eval/metrics.json" "$run/metrics.json"
mv "$run/embeddings/test" "$run/embeddings/queries"
"$IMRET" -q grid "$run" -k 4 -n 3 --select first >/dev/null 2>"$work/grid.err" || fail "grid failed: $(cat "$work/grid.err")"
[[ -s "$run/grids/grid-first.png" ]] || fail "grid did not write grid-first.png"
/usr/bin/python3 - "$run" <<'PY' || fail "grids.json does not frame by the weighted mode"
import json, sys
g = json.load(open(f"{sys.argv[1]}/grids/grids.json"))
assert g["relevance"] == "objects: weighted", g["relevance"]
for q in g["selections"]["first"]:
    a = {k: n for k, n in q["objects"]}
    for r in q["results"]:
        b = {k: n for k, n in r["objects"]}
        keys = set(a) | set(b)
        w = sum(min(a.get(k, 0), b.get(k, 0)) for k in keys) / sum(max(a.get(k, 0), b.get(k, 0)) for k in keys) if a and b else 0
        assert r["correct"] == (w >= 0.5), (q["objects"], r["objects"], r["correct"])
        assert r["objects_text"]
PY

# Bad COCO input: one line naming the file; nothing half-written.
broken="$work/broken"
mkdir -p "$broken/annotations"
head -c 3000 "$coco/annotations/instances_val2014.json" >"$broken/annotations/instances_val2014.json"
expect_error 1 "instances_val2014.json.*byte" -- "$IMRET" -q coco stats --data "$broken" --split val2014
expect_error 2 "no COCO split 'nope'.*database" -- "$IMRET" -q coco stats --data "$coco" --split nope
cp "$coco/retrieval_split.json" "$work/split.bak"
echo '{"test": {"x": [1]}}' >"$coco/retrieval_split.json"
expect_error 1 "retrieval_split.json" -- "$IMRET" -q coco stats --data "$coco" --split test
cp "$work/split.bak" "$coco/retrieval_split.json"
expect_error 2 "already exists" -- "$IMRET" -q coco synth -o "$coco"
expect_error 2 "already exists" -- "$IMRET" -q coco synth -o "$coco/"
"$IMRET" -q coco synth -o "$work/slash/" --train-images 4 --val-images 4 >/dev/null || fail "coco synth -o DIR/ failed"
[[ -s "$work/slash/retrieval_split.json" && ! -e "$work/slash/.partial" ]] || fail "coco synth -o DIR/ wrote $(ls -A "$work/slash")"
expect_error 2 "already exists" -- "$IMRET" -q coco split --data "$coco"
"$IMRET" -q coco split --data "$coco" --database 0.5 --val 0.3 --test 0.3 -o "$work/split2.json" >/dev/null ||
  fail "coco split failed"
json_value "$work/split2.json" 'sorted(j)' | grep -q "'database', 'test', 'train', 'val'" || fail "coco split wrote $(cat "$work/split2.json" | head -c 200)"
echo "coco e2e: ok"
