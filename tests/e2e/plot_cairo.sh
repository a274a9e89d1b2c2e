# imret plot: precision-recall, training and metric plots of run folders,
# from the files a run writes; bad folders get one line.
source "$(dirname "$0")/lib/common.sh"

/usr/bin/python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
import os
for name, quality in (("contrastive", 0.6), ("triplet", 0.8)):
    run = f"{work}/{name}"
    os.makedirs(run)
    with open(f"{run}/pr_curve.csv", "w") as f:
        f.write("recall,precision\n")
        for i in range(101):
            f.write(f"{i / 100},{1 - (1 - quality) * (i / 100) ** 2}\n")
    with open(f"{run}/train_log.csv", "w") as f:
        f.write("epoch,lr,train_loss,val_precision_at_1,val_map_at_r\n")
        for epoch in range(1, 6):
            f.write(f"{epoch},0.001,{1 / epoch},{quality - 0.1 / epoch},{quality - 0.2 / epoch}\n")
    json.dump({"retrieval": {"mAP": quality, "mAP@R": quality - 0.1, "P@K": {"1": quality + 0.1, "10": quality}}},
              open(f"{run}/metrics.json", "w"))
PY

"$IMRET" plot "$work/contrastive" "$work/triplet" -o "$work/plots" >"$work/written"
for stem in precision-recall training-loss validation-map-at-r validation-precision-at-1 metrics; do
  for format in png svg; do
    [[ -s $work/plots/$stem.$format ]] || fail "imret plot did not write $stem.$format"
    grep -qx "$work/plots/$stem.$format" "$work/written" || fail "$stem.$format not listed: $(cat "$work/written")"
  done
done
# One run: the plots go into RUN/plots.
"$IMRET" plot "$work/triplet" --format png >/dev/null
[[ -s $work/triplet/plots/precision-recall.png && ! -e $work/triplet/plots/metrics.svg ]] ||
  fail "one run's plots are not in RUN/plots as PNG only"

mkdir -p "$work/not-a-run"
expect_error 1 "not-a-run: no pr_curve.csv, train_log.csv or metrics.json" -- \
  "$IMRET" plot "$work/triplet" "$work/not-a-run" -o "$work/p2"
[[ ! -e $work/p2 ]] || fail "a failed imret plot left files behind"
expect_error 2 "several runs" -- "$IMRET" plot "$work/triplet" "$work/contrastive"
expect_error 2 "named 'triplet'" -- "$IMRET" plot "$work/triplet" "$work/triplet" -o "$work/p3"
expect_error 2 "--names: 1 names for 2 runs" -- "$IMRET" plot "$work/triplet" "$work/contrastive" -o "$work/p3" --names a
