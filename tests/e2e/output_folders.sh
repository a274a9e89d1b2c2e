# The output-folder contract from the command line: no command deletes what it
# did not write or what it reads, a failed command leaves nothing behind, and
# the readers refuse folders that are incomplete or of another kind.
source "$(dirname "$0")/lib/common.sh"
lib=$(dirname "$0")/lib
mkdir -p "$work/data"
/usr/bin/python3 "$lib/small_mnist.py" "$work/data" 200 60
run() { "$IMRET" -q --threads 2 "$@"; }
train=(--data "$work/data" --limit 200 --batch-size 100 --val-fraction 0.2 --workers 0)
run train "${train[@]}" --epochs 1 -o "$work/run" >/dev/null || fail "train failed"
run embed -c "$work/run/checkpoints/best.safetensors" --data "$work/data" --split test -o "$work/run/embeddings/test" \
  >/dev/null || fail "embed into the run failed"
snapshot() { (cd "$1" && find . -type f -exec sha1sum {} + | sort); }
run embed -c "$work/run/checkpoints/best.safetensors" --data "$work/data" --split test -o "$work/outside" \
  >/dev/null || fail "embed failed"
before=$(snapshot "$work/run")

# 1. index build over a run folder (the data loss found): refused, the run intact.
expect_error 1 "run: holds an input of this command" -- run index build "$work/run/embeddings/test" -o "$work/run"
expect_error 1 "run: holds a run \(written by imret train\), not an index" -- \
  run index build "$work/outside" -o "$work/run"
[[ $(snapshot "$work/run") == "$before" ]] || fail "a refused index build changed the run folder"
# Over a folder imret did not write, or a file: refused, untouched.
mkdir -p "$work/photos" && echo "holiday" >"$work/photos/a.jpg"
expect_error 1 "photos: is not empty and was not written by imret" -- \
  run index build "$work/run/embeddings/test" -o "$work/photos"
[[ $(cat "$work/photos/a.jpg") == holiday ]] || fail "a refused index build touched the photos"
expect_error 1 "photos: is not empty and was not written by imret" -- \
  run embed -c "$work/run/checkpoints/best.safetensors" --data "$work/data" --split test -o "$work/photos"
# An index over an index: only with --overwrite. --output is the old spelling of --out.
run index build "$work/run/embeddings/test" --out "$work/index" >/dev/null 2>&1 || fail "index build --out failed"
expect_error 1 "index: already holds an index; pass --overwrite to replace it" -- \
  run index build "$work/run/embeddings/test" --output "$work/index"
run index build "$work/run/embeddings/test" --output "$work/index" --overwrite >/dev/null 2>&1 ||
  fail "index build --overwrite failed"
run index info "$work/index" >/dev/null || fail "the rebuilt index is unreadable"
[[ -z $(ls -A "$work" | grep '^\.') ]] || fail "hidden leftovers beside the outputs: $(ls -A "$work" | grep '^\.')"

# 2. A failed command leaves no folder, no parent folders and no config.yaml.
expect_error 1 "no-such.pth" -- run train "${train[@]}" --epochs 1 --weights "$work/no-such.pth" -o "$work/new/deep/run"
[[ ! -e "$work/new" ]] || fail "a train that failed after creating its run left $(find "$work/new")"
expect_error 2 "" -- run train "${train[@]}" --epochs 1 --lr -1 -o "$work/new/deep/run"
[[ ! -e "$work/new" ]] || fail "a refused train left $(find "$work/new")"
expect_error 1 "" -- run train --data "$work/no-such-data" --epochs 1 -o "$work/new/run"
[[ ! -e "$work/new" ]] || fail "a train on missing data left $(find "$work/new")"
expect_error 1 "" -- run embed -c "$work/run/checkpoints/no.safetensors" --data "$work/data" --split test -o "$work/new/emb"
[[ ! -e "$work/new" ]] || fail "a failed embed left $(find "$work/new")"

# 3. A run is not overwritten without --overwrite; --resume goes on in the run it resumes.
expect_error 2 "already holds a training run: continue it with --resume" -- \
  run train "${train[@]}" --epochs 1 -o "$work/run"
run train "${train[@]}" --epochs 2 --resume "$work/run/checkpoints/last.safetensors" >/dev/null ||
  fail "train --resume without --out failed"
[[ $(json_value "$work/run/checkpoints/last.json" "j['epoch']") == 2 ]] || fail "--resume did not continue the run it resumes"
[[ ! -e runs/train ]] || fail "--resume without --out wrote runs/train"
[[ -e "$work/run/embeddings/test/embeddings.npy" ]] || fail "resuming lost the run's other outputs"
# Resuming from best.safetensors of the last epoch works (it shares last's optimizer state):
# without validation every epoch is the best.
noval=(--data "$work/data" --limit 200 --batch-size 100 --val-fraction 0 --workers 0)
run train "${noval[@]}" --epochs 1 -o "$work/noval" >/dev/null || fail "train noval failed"
run train "${noval[@]}" --epochs 2 --resume "$work/noval/checkpoints/best.safetensors" >/dev/null ||
  fail "train --resume best.safetensors failed"
[[ $(json_value "$work/noval/checkpoints/last.json" "j['epoch']") == 2 ]] || fail "resuming from best did not train on"
# --resume A -o B where B is another run: refused without --overwrite, B untouched.
run train "${train[@]}" --epochs 1 -o "$work/other" >/dev/null || fail "train other failed"
other=$(snapshot "$work/other")
expect_error 2 "other already holds a training run" -- \
  run train "${train[@]}" --epochs 4 --resume "$work/run/checkpoints/last.safetensors" -o "$work/other"
[[ $(snapshot "$work/other") == "$other" ]] || fail "a refused resume into another run changed it"
# A failed resume leaves the run's settings and its marker as they were.
before=$(snapshot "$work/run")
expect_error 2 "" -- run train "${train[@]}" --epochs 4 --arch resnet18 --resume "$work/run/checkpoints/last.safetensors"
[[ $(snapshot "$work/run") == "$before" ]] || fail "a failed resume changed the run"
# A folder of one's own with an index.html or a config.yaml is not taken for imret's.
mkdir -p "$work/site" && echo "<title>my site</title>" >"$work/site/index.html"
expect_error 1 "site: is not empty and was not written by imret" -- \
  run visualize "$work/outside" --method pca --format png -o "$work/site"
mkdir -p "$work/project" && echo "command: train" >"$work/project/config.yaml" && echo "x" >"$work/project/main.py"
expect_error 1 "project: is not empty and was not written by imret" -- run train "${train[@]}" --epochs 1 -o "$work/project"
[[ -e "$work/project/main.py" ]] || fail "train touched a project folder"
# --overwrite builds the new run aside: a failing one leaves the old run as it was.
before=$(snapshot "$work/run")
expect_error 1 "" -- run train --data "$work/data" --limit 200 --epochs 1 --workers 0 --overwrite \
  --weights "$work/no-such.pth" -o "$work/run"
[[ $(snapshot "$work/run") == "$before" ]] || fail "a failed --overwrite run changed the old run"
run train "${train[@]}" --epochs 1 --overwrite -o "$work/run" >/dev/null || fail "train --overwrite failed"
[[ ! -e "$work/run/embeddings" ]] || fail "--overwrite kept the old run's files"
[[ $(json_value "$work/run/.imret-folder.json" "(j['kind'], j['complete'])") == "('run', True)" ]] ||
  fail "the run's marker: $(cat "$work/run/.imret-folder.json")"

# 4. Readers refuse an incomplete folder or one of another kind.
run embed -c "$work/run/checkpoints/best.safetensors" --data "$work/data" --split test -o "$work/emb" >/dev/null
expect_error 1 "index: holds an index \(written by imret index build\), not an embedding folder" -- \
  run evaluate -q "$work/index" -d "$work/emb" -o "$work/eval"
/usr/bin/python3 - "$work/emb/.imret-folder.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1])); m["complete"] = False; json.dump(m, open(sys.argv[1], "w"))
PY
expect_error 1 "emb: is incomplete" -- run evaluate -q "$work/emb" -d "$work/emb" -o "$work/eval"
expect_error 1 "emb: is incomplete" -- run index build "$work/emb" -o "$work/index2"
echo "output_folders: ok"
