# Bad images among good ones (a 1 x 50000 PNG, a 30000 x 30000 decompression
# bomb, truncated and corrupt JPEG/PNG files): --on-bad-image skip goes on
# and lists each once; fail stops with one line naming the file; no library
# text reaches stderr, no backtrace.
source "$(dirname "$0")/lib/common.sh"
png() { /usr/bin/python3 "$(dirname "$0")/lib/write_png.py" "$@"; }
/usr/bin/python3 "$IMRET_SOURCE_DIR/tests/unit/data/make_test_images.py" "$work/made" --bomb

root="$work/scenes"
for split in train test; do
  mkdir -p "$root/$split/coast" "$root/$split/forest"
  for i in 0 1 2 3; do
    png "$root/$split/coast/c$i.png" 20 $((60 + i * 10)) 200
    png "$root/$split/forest/f$i.png" 30 $((150 + i * 10)) 40
  done
  cp "$work/made/rgb.jpg" "$root/$split/coast/photo.jpg"
  cp "$work/made/progressive.jpg" "$root/$split/forest/photo.jpg"
done
good=10  # per split
size=$(stat -c %s "$work/made/rgb.jpg")
head -c $((size / 2)) "$work/made/rgb.jpg" >"$root/test/coast/half.jpg"
cp "$work/made/tall.png" "$root/test/coast/tall.png"
cp "$work/made/bomb.png" "$root/test/forest/bomb.png"
png_size=$(stat -c %s "$work/made/rgb.png")
head -c $((png_size - 30)) "$work/made/rgb.png" >"$root/test/forest/cut.png"
cp "$work/made/text_crc_error.png" "$root/test/forest/crc.png"
bad=(coast/half.jpg coast/tall.png forest/bomb.png forest/crc.png forest/cut.png)

# No line of libjpeg's or libpng's own (their texts may only appear inside
# imret's lines, as the reason), no internal error, no backtrace.
quiet_stderr() {
  ! grep -qE "^(libpng|Premature end|Corrupt JPEG|Not a JPEG|Invalid JPEG|Warning:|\[ WARN)|internal error|frame #" "$1" ||
    fail "$2 printed library text or a backtrace: $(cat "$1")"
}

tiny=(--arch resnet18 --resize 32 --crop 32 --batch-size 4 --val-fraction 0 --workers 1)
"$IMRET" -q train --data "$root" "${tiny[@]}" --epochs 1 --out "$work/run" >/dev/null 2>"$work/train.err" ||
  fail "train on good images failed: $(cat "$work/train.err")"
checkpoint="$work/run/checkpoints/last.safetensors"

# skip: every good image embedded, each bad one listed once with a reason.
"$IMRET" embed --checkpoint "$checkpoint" --data "$root" --split test -o "$work/emb" --on-bad-image skip \
  >"$work/embed.out" 2>"$work/embed.err" || fail "embed with skip failed: $(cat "$work/embed.err")"
quiet_stderr "$work/embed.err" "embed --on-bad-image skip"
rows=$(/usr/bin/python3 -c "import numpy as np, sys; print(np.load(sys.argv[1]).shape[0])" "$work/emb/embeddings.npy")
[[ $rows -eq $good ]] || fail "embedded $rows images, expected the $good good ones"
listed=$(json_value "$work/emb/meta.json" "'\n'.join(sorted(b['path'] for b in j['bad_images']))")
expected=$(for b in "${bad[@]}"; do echo "$root/test/$b"; done | sort)
[[ "$listed" == "$expected" ]] || fail "meta.json bad_images: $listed; expected: $expected"
json_value "$work/emb/meta.json" "all(b['reason'] and '\n' not in b['reason'] for b in j['bad_images'])" | grep -q True ||
  fail "a bad image has no one-line reason: $(cat "$work/emb/meta.json")"
reason() { json_value "$work/emb/meta.json" "[b['reason'] for b in j['bad_images'] if b['path'].endswith('$1')][0]"; }
reason tall.png | grep -q "1 x 50000: aspect ratio 50000 above the limit of 100" || fail "tall.png: $(reason tall.png)"
reason bomb.png | grep -q "30000 x 30000 pixels, more than the limit of 178956970" || fail "bomb.png: $(reason bomb.png)"
reason half.jpg | grep -qi "corrupt JPEG" || fail "half.jpg: $(reason half.jpg)"

# fail: one line naming the first bad file (class, then file order), exit 1.
expect_error 1 "^imret: error: $root/test/coast/half.jpg: corrupt JPEG: .+$" -- \
  "$IMRET" -q embed --checkpoint "$checkpoint" --data "$root" --split test -o "$work/emb2" --on-bad-image fail
quiet_stderr "$work/err" "embed --on-bad-image fail"
[[ $(wc -l <"$work/err") -eq 1 ]] || fail "embed --on-bad-image fail printed more than its error line: $(cat "$work/err")"
for name in tall.png bomb.png; do  # each limit alone stops the job too, naming the file
  mkdir -p "$work/one/test/coast"
  rm -f "$work/one/test/coast/"*
  cp "$root/test/coast/c0.png" "$work/made/$name" "$work/one/test/coast/"
  expect_error 1 "^imret: error: $work/one/test/coast/$name: " -- \
    "$IMRET" embed --checkpoint "$checkpoint" --data "$work/one" --split test -o "$work/emb3" --on-bad-image fail
  quiet_stderr "$work/err" "embed of $name"
done

# A 3-epoch train with one bad image reports it once.
cp "$root/test/coast/half.jpg" "$root/train/coast/half.jpg"
"$IMRET" train --data "$root" "${tiny[@]}" --epochs 3 --out "$work/run3" >"$work/train3.out" 2>"$work/train3.err" ||
  fail "train with a bad image failed: $(cat "$work/train3.err")"
quiet_stderr "$work/train3.err" "train"
grep -q "bad images skipped: 1$" "$work/train3.out" || fail "the summary does not count one bad image: $(cat "$work/train3.out")"
warned=$(grep -c "skipping bad image .*half.jpg" "$work/train3.err" || true)
[[ $warned -eq 1 ]] || fail "half.jpg was warned about $warned times in 3 epochs: $(cat "$work/train3.err")"
listed=$(grep -c "^.*  $root/train/coast/half.jpg: " "$work/train3.err" || true)
[[ $listed -eq 1 ]] || fail "the summary lists half.jpg $listed times: $(cat "$work/train3.err")"
echo "bad_images: ok"
