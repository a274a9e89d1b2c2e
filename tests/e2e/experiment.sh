# imret experiment: a plan of two rows on a slice of Fashion-MNIST gives one
# comparison table; a second call reuses the rows; a changed row reruns; bad
# plans name the file and the problem. imret train --config takes the same
# settings, with flags overriding them.
source "$(dirname "$0")/lib/common.sh"
cat >"$work/plan.yaml" <<'YAML'
title: two rows
database_limit: 1000
query_limit: 200
defaults:
  epochs: 1
  limit: 1000
  workers: 1
  embedding_dim: 16
experiments:
  - name: cls
    method: classification
    batch_size: 50
  - name: tri
    description: semi-hard triplets
    method: triplet
    miner: semi-hard
    classes_per_batch: 5
    images_per_class: 6
YAML
out="$work/exp"
"$IMRET" -q experiment "$work/plan.yaml" -o "$out" >"$work/run1.out" 2>"$work/run1.err" ||
  fail "experiment failed: $(tail -5 "$work/run1.err")"
for f in results.md results.csv results.json cls/result.json cls/metrics.json cls/checkpoints/best.safetensors \
         tri/result.json tri/embeddings/queries/embeddings.npy; do
  [[ -s "$out/$f" ]] || fail "experiment did not write $f"
done
rows=$(grep -c '^| \(cls\|tri\) |' "$out/results.md")
[[ $rows -eq 2 ]] || fail "results.md has $rows experiment rows, expected 2"
grep -q '^| tri | triplet | semi-hard | euclidean | 0.2 | 16 | 1 |' "$out/results.md" || fail "triplet row: $(cat "$out/results.md")"
# The table's numbers are the rows' own metrics.json.
/usr/bin/python3 - "$out" <<'PY' || fail "results.json does not match the rows' metrics.json"
import json, sys
out = sys.argv[1]
table = {r["name"]: r for r in json.load(open(f"{out}/results.json"))["experiments"]}
for name in ("cls", "tri"):
    metrics = json.load(open(f"{out}/{name}/metrics.json"))
    assert metrics["queries"] == 200 and metrics["database"] == 1000, metrics
    assert table[name]["retrieval"]["mAP"] == metrics["retrieval"]["mAP"], name
    assert table[name]["retrieval"]["P@K"]["1"] == metrics["retrieval"]["P@K"]["1"], name
assert table["tri"]["tuples_per_batch"] > 0 and table["cls"]["nonzero_fraction"] is None
PY

# Unchanged rows are reused; a changed row runs again.
"$IMRET" -q experiment "$work/plan.yaml" -o "$out" >"$work/run2.out" 2>&1
[[ $(grep -c "reusing" "$work/run2.out") -eq 2 ]] || fail "second call did not reuse both rows: $(cat "$work/run2.out")"
sed -i 's/miner: semi-hard/miner: batch-hard/' "$work/plan.yaml"
"$IMRET" -q experiment "$work/plan.yaml" -o "$out" >"$work/run3.out" 2>&1
[[ $(grep -c "reusing" "$work/run3.out") -eq 1 ]] || fail "the changed row was not rerun: $(cat "$work/run3.out")"
grep -q '^| tri | triplet | batch-hard |' "$out/results.md" || fail "results.md not updated"

# A plan's rerank list: the rows are reused, each is re-ranked, rerank.md lists them; a second call reuses that too.
cp "$work/plan.yaml" "$work/rerank.yaml"
printf 'rerank:\n  - aqe:k=3\n  - kreciprocal:k1=5,k2=2,lambda=1\nrerank_depth: 30\n' >>"$work/rerank.yaml"
"$IMRET" -q experiment "$work/rerank.yaml" -o "$out" >"$work/run4.out" 2>&1 || fail "re-ranking plan failed: $(tail -5 "$work/run4.out")"
[[ $(grep -c "reusing" "$work/run4.out") -eq 2 ]] || fail "the re-ranking plan retrained: $(cat "$work/run4.out")"
[[ $(grep -c '^| \(cls\|tri\) | `' "$out/rerank.md") -eq 6 ]] || fail "rerank.md: $(cat "$out/rerank.md")"
/usr/bin/python3 - "$out" <<'PY' || fail "the re-ranking rows do not match the rows' metrics"
import json, sys
out = sys.argv[1]
for name in ("cls", "tri"):
    plain = json.load(open(f"{out}/{name}/metrics.json"))["retrieval"]["mAP"]
    rows = {r["rerank"]: r for r in json.load(open(f"{out}/{name}/rerank/metrics.json"))["rerank"]}
    assert abs(rows["none"]["mAP"] - plain) < 1e-12, (name, rows["none"]["mAP"], plain)
    same = rows["kreciprocal:k1=5,k2=2,lambda=1"]  # lambda = 1 keeps the ranking
    assert abs(same["mAP"] - plain) < 1e-12 and same["mAP change"] == 0, same
    assert rows["aqe:k=3,alpha=3"]["mAP"] != plain
PY
"$IMRET" experiment "$work/rerank.yaml" -o "$out" >"$work/run5.out" 2>&1
grep -q "re-ranking: none" "$work/run5.out" && fail "an unchanged re-ranking ran again: $(cat "$work/run5.out")"
printf 'rerank: [qe]\nexperiments:\n  - name: a\n' >"$work/bad6.yaml"
expect_error 2 "bad6.yaml: rerank: unknown re-ranking 'qe'" -- "$IMRET" experiment "$work/bad6.yaml" -o "$work/x"

# Bad plans.
printf 'experiments:\n  - name: a\n    lrr: 1\n' >"$work/bad1.yaml"
expect_error 2 "bad1.yaml: experiment a: unknown training setting 'lrr'" -- "$IMRET" experiment "$work/bad1.yaml" -o "$work/x"
printf 'experiments:\n  - name: a\n  - name: a\n' >"$work/bad2.yaml"
expect_error 2 "bad2.yaml: experiment a: the name is used twice" -- "$IMRET" experiment "$work/bad2.yaml" -o "$work/x"
printf 'experiments: [\n' >"$work/bad3.yaml"
expect_error 1 "bad3.yaml" -- "$IMRET" experiment "$work/bad3.yaml" -o "$work/x"
printf 'experiments:\n  - name: a/b\n' >"$work/bad4.yaml"
expect_error 2 "a/b: a name may hold only" -- "$IMRET" experiment "$work/bad4.yaml" -o "$work/x"
printf 'experiment:\n  - name: a\n' >"$work/bad5.yaml"
expect_error 2 "bad5.yaml: unknown key 'experiment'" -- "$IMRET" experiment "$work/bad5.yaml" -o "$work/x"
[[ ! -e "$work/x" ]] || fail "a bad plan left output behind"

# imret train --config: the file's settings, flags override; a run's own
# config.yaml is a valid settings file.
printf 'method: triplet\nmargin: 0.3\nepochs: 1\nlimit: 300\nclasses_per_batch: 5\nimages_per_class: 4\nworkers: 1\n' >"$work/train.yaml"
"$IMRET" -q train --config "$work/train.yaml" --margin 0.1 -o "$work/t1" >/dev/null 2>&1 || fail "train --config failed"
grep -q "margin: 0.1" "$work/t1/config.yaml" || fail "--margin did not override the file: $(cat "$work/t1/config.yaml")"
grep -q "method: triplet" "$work/t1/config.yaml" || fail "the file's method was not used"
"$IMRET" -q train --config "$work/t1/config.yaml" -o "$work/t2" >/dev/null 2>&1 || fail "a run's config.yaml was refused"
diff <(grep -v "^command\|^data\|^split" "$work/t1/config.yaml") <(grep -v "^command\|^data\|^split" "$work/t2/config.yaml") ||
  fail "rerunning a run's config.yaml changed its settings"
printf 'lr: fast\n' >"$work/bad-train.yaml"
expect_error 2 "bad-train.yaml: training setting 'lr' should be number" -- "$IMRET" train --config "$work/bad-train.yaml" -o "$work/t3"
# Settings that do not go together are refused before any work.
expect_error 2 "leave out --miner" -- "$IMRET" train --method triplet --tuples offline --miner semi-hard -o "$work/t4"
expect_error 2 "--tuples offline: pairs for --method siamese" -- "$IMRET" train --method quadruplet --tuples offline -o "$work/t4"
expect_error 2 "compares by cosine similarity" -- "$IMRET" train --method proxy-anchor --distance mahalanobis -o "$work/t4"
expect_error 2 "--early-stop needs validation" -- "$IMRET" train --early-stop 2 --val-fraction 0 -o "$work/t4"
expect_error 2 "--soft-margin applies to --method triplet" -- "$IMRET" train --method siamese --soft-margin -o "$work/t4"
[[ ! -e "$work/t4" ]] || fail "a refused run left files behind"
echo "experiment: ok"
