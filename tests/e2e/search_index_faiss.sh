# imret index build|info|search|add and compare-search on clustered
# embeddings: exact search agrees with scikit-learn's NearestNeighbors, FAISS
# Flat with exact, saved indexes search as built ones, errors are one line.
source "$(dirname "$0")/lib/common.sh"

/usr/bin/python3 - "$work" <<'PY'
import json, sys, numpy as np
work = sys.argv[1]
rng = np.random.default_rng(0)
centres = rng.normal(size=(8, 16)) * 3
def write(folder, n, offset):
    import os
    os.makedirs(folder, exist_ok=True)
    labels = rng.integers(0, 8, size=n)
    x = (centres[labels] + rng.normal(size=(n, 16))).astype(np.float32)
    np.save(f"{folder}/embeddings.npy", x)
    with open(f"{folder}/items.jsonl", "w") as f:
        for i, l in enumerate(labels):
            f.write(json.dumps({"index": i, "source": f"item{offset + i}", "label": int(l), "class": f"c{l}"}) + "\n")
    json.dump({"checkpoint": "/runs/x/best.safetensors"}, open(f"{folder}/meta.json", "w"))
write(f"{work}/db", 3000, 0)
write(f"{work}/more", 500, 3000)
write(f"{work}/q", 200, 10000)
PY

# Exact search: the same neighbours as scikit-learn's brute-force search.
"$IMRET" search -d "$work/db" -q "$work/q" --first 0 -k 10 --json >"$work/exact.json"
/usr/bin/python3 - "$work" <<'PY' || fail "exact search differs from scikit-learn"
import json, sys, numpy as np
from sklearn.neighbors import NearestNeighbors
work = sys.argv[1]
db, q = np.load(f"{work}/db/embeddings.npy"), np.load(f"{work}/q/embeddings.npy")
distances, ids = NearestNeighbors(n_neighbors=10, algorithm="brute").fit(db).kneighbors(q)
ours = json.load(open(f"{work}/exact.json"))
assert len(ours) == 200
for row, r in enumerate(ours):
    assert [x["id"] for x in r["results"]] == ids[row].tolist(), (row, r["results"], ids[row])
    assert np.allclose([x["distance"] for x in r["results"]], distances[row], atol=1e-4)
PY

# A saved FAISS index searches like the same index built on the fly, and like exact search.
"$IMRET" index build "$work/db" -o "$work/flat" --index faiss:Flat 2>"$work/build.log"
"$IMRET" index search "$work/flat" -q "$work/q" --first 0 -k 10 --json >"$work/flat.json"
/usr/bin/python3 - "$work/exact.json" "$work/flat.json" <<'PY' || fail "faiss:Flat differs from exact search"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for x, y in zip(a, b):
    assert [r["id"] for r in x["results"]] == [r["id"] for r in y["results"]]
    assert all(abs(r["distance"] - s["distance"]) < 1e-3 for r, s in zip(x["results"], y["results"]))
PY
"$IMRET" index build "$work/db" -o "$work/ivf" --index faiss:IVF16,Flat --nprobe 4 --metric cosine 2>"$work/build.log"
"$IMRET" index search "$work/ivf" -q "$work/q" --first 3 -k 5 --json >"$work/saved.json"
"$IMRET" search -d "$work/db" -q "$work/q" --first 3 -k 5 --index faiss:IVF16,Flat --nprobe 4 --metric cosine --json >"$work/fly.json"
cmp -s "$work/saved.json" "$work/fly.json" || fail "a saved IVF index searches differently from one built on the fly"
"$IMRET" index info "$work/ivf" --json >"$work/info.json"
[[ $(json_value "$work/info.json" '(j["backend"], j["metric"], j["count"], j["dimension"], j["parameters"]["nprobe"])') == \
   "('faiss:IVF16,Flat', 'cosine', 3000, 16, 4.0)" ]] || fail "index info: $(cat "$work/info.json")"
"$IMRET" index info "$work/ivf" >"$work/info.txt"  # to a file: grep -q on a pipe may end imret with SIGPIPE
grep -q "vectors    3000 x 16" "$work/info.txt" || fail "index info table: $(cat "$work/info.txt")"

# Range search: every item within the radius, as the exact index finds them.
"$IMRET" index search "$work/flat" -q "$work/q" --first 5 --radius 4.5 --json >"$work/range.json"
"$IMRET" index build "$work/db" -o "$work/exact" --index exact 2>/dev/null
"$IMRET" index search "$work/exact" -q "$work/q" --first 5 --radius 4.5 --json >"$work/range-exact.json"
/usr/bin/python3 - "$work" <<'PY' || fail "range search"
import json, sys, numpy as np
work = sys.argv[1]
db, q = np.load(f"{work}/db/embeddings.npy"), np.load(f"{work}/q/embeddings.npy")
for name in ("range.json", "range-exact.json"):
    for r in json.load(open(f"{work}/{name}")):
        d = np.linalg.norm(db - q[r["query"]], axis=1)
        expected = set(np.nonzero(d < 4.5)[0].tolist())
        got = [x["id"] for x in r["results"]]
        assert set(got) == expected - {i for i in expected if abs(d[i] - 4.5) < 1e-4}, (name, len(got), len(expected))
        assert all(a["distance"] <= b["distance"] for a, b in zip(r["results"], r["results"][1:]))
PY
"$IMRET" index build "$work/db" -o "$work/hnsw" --index faiss:HNSW16 --ef-search 32 2>/dev/null
expect_error 2 "no range search" -- "$IMRET" index search "$work/hnsw" -q "$work/q" --radius 1

# index add: the new items are found and named.
"$IMRET" index add "$work/flat" "$work/more" 2>/dev/null
"$IMRET" index info "$work/flat" --json >"$work/info.json"
[[ $(json_value "$work/info.json" '(j["count"], len(j["sources"]))') == "(3500, 2)" ]] || fail "index add: $(cat "$work/info.json")"
"$IMRET" index search "$work/flat" -q "$work/more" --first 1 -k 1 --json >"$work/self.json"
[[ $(json_value "$work/self.json" 'j[0]["results"][0]["source"]') == "item3000" ]] || fail "added item not found: $(cat "$work/self.json")"

# compare-search: one table, exact rows with recall 1, Flat too.
"$IMRET" compare-search -d "$work/db" -q "$work/q" -o "$work/cmp" -k 20 \
  --index exact --index faiss:Flat --index faiss:IVF16,Flat@nprobe=2 --index faiss:HNSW16@efSearch=64 --knn-vote distance >"$work/cmp.out" 2>/dev/null
grep -q "| \`faiss:IVF16,Flat@nprobe=2\` |" "$work/cmp/results.md" || fail "compare-search table: $(cat "$work/cmp/results.md")"
[[ $(json_value "$work/cmp/results.json" '[r["recall_at_10"] for r in j["rows"]][:2]') == "[1.0, 1.0]" ]] || fail "exact/Flat recall"
[[ $(json_value "$work/cmp/results.json" '(len(j["rows"]), j["rows"][2]["parameters"]["nprobe"])') == "(4, 2.0)" ]] || fail "compare-search rows"
[[ $(head -1 "$work/cmp/results.csv") == index,parameters,train_seconds,* ]] || fail "results.csv header"
# The exact row's distance-weighted 10-NN accuracy is scikit-learn's.
/usr/bin/python3 - "$work" <<'PY' || fail "k-NN accuracy differs from scikit-learn's KNeighborsClassifier"
import json, sys, numpy as np
from sklearn.neighbors import KNeighborsClassifier
work = sys.argv[1]
labels = lambda f: [json.loads(l)["label"] for l in open(f)]
db, q = np.load(f"{work}/db/embeddings.npy"), np.load(f"{work}/q/embeddings.npy")
knn = KNeighborsClassifier(n_neighbors=10, weights="distance", algorithm="brute").fit(db, labels(f"{work}/db/items.jsonl"))
expected = knn.score(q, labels(f"{work}/q/items.jsonl"))
ours = json.load(open(f"{work}/cmp/results.json"))["rows"][0]
assert ours["knn_vote"] == "distance" and abs(ours["knn_accuracy"] - expected) < 1e-12, (ours, expected)
PY

# Bad input: one line naming the file, the old index kept.
cp -r "$work/ivf" "$work/ivf.keep"
expect_error 1 "too few to train" -- "$IMRET" index build "$work/q" -o "$work/ivf" --index faiss:IVF256,Flat --overwrite
cmp -s "$work/ivf/index.faiss" "$work/ivf.keep/index.faiss" || fail "a failed build touched the old index"
expect_error 2 "not a valid FAISS index_factory string" -- "$IMRET" index build "$work/db" -o "$work/bad" --index faiss:Nonsense7
expect_error 2 "no query-time parameter 'nprobe'" -- "$IMRET" index search "$work/flat" -q "$work/q" --nprobe 3
head -c 2000 "$work/ivf.keep/index.faiss" >"$work/ivf/index.faiss"
expect_error 1 "ivf/index.faiss: not a readable FAISS index" -- "$IMRET" index search "$work/ivf" -q "$work/q"
cp "$work/ivf.keep/index.faiss" "$work/ivf/index.faiss"
sed -i 's/"count": 3000/"count": 2999/' "$work/ivf/manifest.json"
expect_error 1 "manifest.json says 2999" -- "$IMRET" index info "$work/ivf"
echo '{"format": ' >"$work/ivf/manifest.json"
expect_error 1 "manifest.json: malformed JSON" -- "$IMRET" index info "$work/ivf"
expect_error 1 "not an index folder" -- "$IMRET" index info "$work/nowhere"
mkdir -p "$work/wrong"
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1] + '/embeddings.npy', np.zeros((2, 8), np.float32))" "$work/wrong"
printf '{"index": 0}\n{"index": 1}\n' >"$work/wrong/items.jsonl"
mkdir -p "$work/empty"
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[1] + '/embeddings.npy', np.zeros((0, 16), np.float32))" "$work/empty"
: >"$work/empty/items.jsonl"
expect_error 2 "empty: no embeddings to index" -- "$IMRET" index build "$work/empty" -o "$work/none"
[[ ! -e "$work/none" ]] || fail "a failed build left an index folder"
expect_error 2 "empty: no embeddings to add" -- "$IMRET" index add "$work/flat" "$work/empty"
expect_error 2 "embeddings of 8 dimensions, the index holds 16" -- "$IMRET" index add "$work/flat" "$work/wrong"
echo "search_index: ok"
