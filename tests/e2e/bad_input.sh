# A careless user's input gets one clear line naming the file, and exit 1
# (2 for usage errors); nothing good is overwritten.
source "$(dirname "$0")/lib/common.sh"

expect_error 1 "/no/such/folder" -- "$IMRET" train --data /no/such/folder --out "$work/r"
expect_error 1 "no/such/ckpt.safetensors: no such file" -- "$IMRET" embed -c "$work/no/such/ckpt.safetensors" -o "$work/e"

# A truncated checkpoint.
head -c 100 /dev/urandom >"$work/bad.safetensors"
expect_error 1 "bad.safetensors" -- "$IMRET" embed -c "$work/bad.safetensors" -o "$work/e"

# Embedding folders: missing, corrupt .npy, malformed items.jsonl, row count mismatch.
expect_error 1 "nothing-here" -- "$IMRET" evaluate -q "$work/nothing-here" -d "$work/nothing-here" -o "$work/m"
mkdir -p "$work/emb"
/usr/bin/python3 - "$work/emb" <<'PY'
import json, sys, numpy as np
folder = sys.argv[1]
np.save(f"{folder}/embeddings.npy", np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
with open(f"{folder}/items.jsonl", "w") as f:
    for i in range(4):
        f.write(json.dumps({"index": i, "source": f"item{i}", "label": i % 2, "class": str(i % 2)}) + "\n")
PY
"$IMRET" evaluate -q "$work/emb" -d "$work/emb" --exclude-self --knn 1 -o "$work/m" >/dev/null
cp "$work/m/metrics.json" "$work/metrics.good"
printf '{"index": 0, "source": broken\n' >"$work/emb/items.jsonl.bad"
mkdir -p "$work/emb2" && cp "$work/emb/embeddings.npy" "$work/emb2/" && cp "$work/emb/items.jsonl.bad" "$work/emb2/items.jsonl"
expect_error 1 "items.jsonl:1: malformed JSON" -- "$IMRET" evaluate -q "$work/emb2" -d "$work/emb" -o "$work/m"
head -n 3 "$work/emb/items.jsonl" >"$work/emb2/items.jsonl"
expect_error 1 "4 rows but items.jsonl has 3" -- "$IMRET" evaluate -q "$work/emb2" -d "$work/emb" -o "$work/m"
head -c 90 "$work/emb/embeddings.npy" >"$work/emb2/embeddings.npy"
expect_error 1 "embeddings.npy: truncated" -- "$IMRET" evaluate -q "$work/emb2" -d "$work/emb" -o "$work/m"
cmp -s "$work/m/metrics.json" "$work/metrics.good" || fail "a failed evaluate changed the earlier metrics.json"

# Training into a folder of files imret did not write (a checkpoint, no run record) does not touch them.
mkdir -p "$work/done/checkpoints" && echo keep >"$work/done/checkpoints/last.safetensors"
expect_error 1 "done: is not empty and was not written by imret" -- "$IMRET" train --out "$work/done" --epochs 1
grep -q keep "$work/done/checkpoints/last.safetensors" || fail "the earlier run was touched"

# Usage errors exit 2.
expect_error 2 "--device" -- "$IMRET" evaluate -q "$work/emb" -d "$work/emb" -o "$work/m" --device tpu
expect_error 2 "--k" -- "$IMRET" evaluate -q "$work/emb" -d "$work/emb" -o "$work/m" --k 1,x
echo "bad_input: ok"
