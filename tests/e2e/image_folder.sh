# An MIT_split-layout image folder through train and embed, with the mistakes
# real folders have: a corrupt image, a stray file, an empty class, a missing split.
source "$(dirname "$0")/lib/common.sh"
png() { /usr/bin/python3 "$(dirname "$0")/lib/write_png.py" "$@"; }

root="$work/scenes"
for split in train test; do
  for i in 0 1 2 3 4 5; do
    mkdir -p "$root/$split/coast" "$root/$split/forest"
    png "$root/$split/coast/c$i.png" 20 $((60 + i * 10)) 200
    png "$root/$split/forest/f$i.png" 30 $((150 + i * 10)) 40
  done
done
echo "not an image" >"$root/train/coast/broken.jpg"
echo "notes" >"$root/train/forest/README.txt"

tiny=(--arch resnet18 --resize 32 --crop 32 --epochs 1 --batch-size 4 --val-fraction 0 --workers 1)
"$IMRET" -q train --data "$root" "${tiny[@]}" --out "$work/run" >"$work/train.out" 2>"$work/train.err" ||
  fail "train on an image folder failed: $(cat "$work/train.err")"
grep -q "broken.jpg" "$work/train.err" || fail "the corrupt image was not reported: $(cat "$work/train.err")"
grep -q "README.txt" "$work/train.err" || fail "the stray file was not reported"
grep -q "bad images skipped: 1" "$work/train.out" || fail "the run summary does not count the bad image"

expect_error 1 "broken.jpg" -- "$IMRET" -q train --data "$root" "${tiny[@]}" --on-bad-image fail --out "$work/run2"

"$IMRET" -q embed -c "$work/run/checkpoints/last.safetensors" --data "$root" --split test -o "$work/emb" >"$work/embed.out"
rows=$(/usr/bin/python3 -c "import numpy as np, sys; print(np.load(sys.argv[1]).shape)" "$work/emb/embeddings.npy")
[[ "$rows" == "(12, 512)" ]] || fail "embed wrote $rows, expected (12, 512)"
grep -q '"class":"forest"' "$work/emb/items.jsonl" || fail "items.jsonl lacks class names"

expect_error 1 "validation.*(train|test)" -- "$IMRET" -q embed -c "$work/run/checkpoints/last.safetensors" --data "$root" --split validation -o "$work/e2"
mkdir -p "$root/train/empty"
expect_error 1 "empty" -- "$IMRET" -q train --data "$root" "${tiny[@]}" --out "$work/run3"
echo "image_folder: ok"
