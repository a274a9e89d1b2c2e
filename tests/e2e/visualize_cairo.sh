# imret visualize: PCA, t-SNE and UMAP maps of an embedding folder as CSV + PNG/SVG
# scatter plots. PCA coordinates match scikit-learn's; the CSV rows name the
# items; trustworthiness and 2-D k-NN accuracy match scikit-learn's measures
# of the written coordinates; bad input gets one line, earlier outputs stay.
source "$(dirname "$0")/lib/common.sh"

mkdir -p "$work/emb"
/usr/bin/python3 - "$work/emb" <<'PY'
import json, sys, numpy as np
folder = sys.argv[1]
rng = np.random.default_rng(0)
labels = np.arange(600) % 4
centres = rng.normal(scale=4.0, size=(4, 16))
data = (centres[labels] + rng.normal(size=(600, 16))).astype(np.float32)
np.save(f"{folder}/embeddings.npy", data)
names = ["T-shirt, top", "Trouser", "Pull\"over", "Dress"]  # CSV quoting
with open(f"{folder}/items.jsonl", "w") as f:
    for i, label in enumerate(labels):
        f.write(json.dumps({"index": 1000 + i, "source": f"img/{i}.png", "label": int(label),
                            "class": names[label]}) + "\n")
PY

"$IMRET" visualize "$work/emb" -o "$work/viz" --method pca,tsne,umap --title "four blobs" >"$work/stdout"
for f in pca.csv pca.png pca.svg tsne.csv tsne.png tsne.svg umap.csv umap.png visualize.json; do
  [[ -s $work/viz/$f ]] || fail "visualize did not write $f"
done
[[ $(head -c 8 "$work/viz/tsne.png" | od -An -c | tr -d ' ') == '211PNG\r\n032\n' ]] || fail "tsne.png is not a PNG"
grep -q "<svg" "$work/viz/pca.svg" || fail "pca.svg is not SVG"

/usr/bin/python3 - "$work/emb" "$work/viz" <<'PY' || fail "visualize's coordinates or measures differ from scikit-learn"
import csv, json, sys
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.neighbors import KNeighborsClassifier
emb, viz = sys.argv[1], sys.argv[2]
data = np.load(f"{emb}/embeddings.npy")
summary = json.load(open(f"{viz}/visualize.json"))
for method in ("pca", "tsne", "umap"):
    rows = list(csv.DictReader(open(f"{viz}/{method}.csv", newline="")))
    assert len(rows) == 600, len(rows)
    assert [int(r["row"]) for r in rows] == list(range(600))
    assert rows[2]["class"] == 'Pull"over' and rows[0]["class"] == "T-shirt, top", rows[:3]
    assert rows[5]["index"] == "1005" and rows[5]["source"] == "img/5.png"
    xy = np.array([[float(r["x"]), float(r["y"])] for r in rows])
    labels = np.array([int(r["label"]) for r in rows])
    details = summary[method]
    assert abs(details["trustworthiness"] - trustworthiness(data, xy, n_neighbors=10)) < 1e-6, method
    # Leave-one-out 10-NN vote, as imret computes it.
    knn = KNeighborsClassifier(n_neighbors=11).fit(xy, labels)
    neighbours = knn.kneighbors(xy, return_distance=False)[:, 1:]
    votes = np.array([np.bincount(labels[n], minlength=4).argmax() for n in neighbours])
    assert abs(details["knn_accuracy"] - (votes == labels).mean()) < 0.01, (method, details["knn_accuracy"])
    assert details["knn_accuracy"] > 0.95, (method, details)  # four well separated blobs
pca = PCA(n_components=2, svd_solver="full").fit(data)
xy = np.array([[float(r["x"]), float(r["y"])] for r in csv.DictReader(open(f"{viz}/pca.csv"))])
assert np.abs(xy - pca.transform(data)).max() < 1e-3 * np.abs(xy).max()
assert np.allclose(summary["pca"]["explained_variance_ratio"], pca.explained_variance_ratio_, atol=1e-6)
PY
grep -q "tsne  600 points" "$work/stdout" || fail "no summary line: $(cat "$work/stdout")"

# --sample maps a seeded subset, the same one each time.
"$IMRET" -q visualize "$work/emb" -o "$work/sample" --method pca --sample 100 --format png >/dev/null
"$IMRET" -q visualize "$work/emb" -o "$work/sample2" --method pca --sample 100 --format png >/dev/null
[[ $(wc -l <"$work/sample/pca.csv") -eq 101 ]] || fail "--sample 100 did not map 100 points"
cmp -s "$work/sample/pca.csv" "$work/sample2/pca.csv" || fail "the same seed sampled different points"
[[ ! -e $work/sample/pca.svg ]] || fail "--format png wrote an SVG"

# Bad input: one line, exit 2 for usage, 1 for files; the earlier maps stay.
cp "$work/viz/pca.csv" "$work/pca.good"
expect_error 2 "--method lle" -- "$IMRET" visualize "$work/emb" -o "$work/viz" --method lle
expect_error 2 "min_dist 2" -- "$IMRET" visualize "$work/emb" -o "$work/viz" --method umap --min-dist 2
# Thumbnails need the items' images: this set's meta.json does not say where they are.
expect_error 1 "meta.json" -- "$IMRET" visualize "$work/emb" -o "$work/viz" --method pca --thumbnails 5
expect_error 2 "--format gif" -- "$IMRET" visualize "$work/emb" -o "$work/viz" --format gif
expect_error 2 "perplexity" -- "$IMRET" visualize "$work/emb" -o "$work/viz" --method tsne --perplexity 900
expect_error 1 "no-such-folder" -- "$IMRET" visualize "$work/no-such-folder" -o "$work/viz"
cmp -s "$work/viz/pca.csv" "$work/pca.good" || fail "a failed visualize changed pca.csv"
