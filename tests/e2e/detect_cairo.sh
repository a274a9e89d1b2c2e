# imret detect end to end: torchvision's Mask R-CNN (random weights, legacy
# .pth with pre-0.13 keys) on two PNG files gives exactly torchvision's
# detections in the COCO results format (boxes, scores, labels, mask RLEs
# checked against an independent Python RLE), pictures of the image's size,
# predicted objects, and detector features (pooled pyramid levels equal to
# torchvision's FPN outputs pooled by numpy) that imret evaluate reads; bad
# input gets one line naming the file and leaves no results file.
source "$(dirname "$0")/lib/common.sh"
src="${IMRET_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
ref="$work/ref"
/usr/bin/python3 "$src/tests/unit/detect/detector_reference.py" maskrcnn "$ref" >/dev/null ||
  fail "the reference detector could not be built"

# Two 8-bit images and torchvision's results on exactly those pixels.
/usr/bin/python3 - "$ref" "$work" "$src" <<'PY' || fail "torchvision's reference results failed"
import json, os, sys
import numpy as np, torch
from PIL import Image
ref, work, src = sys.argv[1:]
sys.path.insert(0, f"{src}/tests/unit/detect")
import detector_reference as r
from rle_reference import encode, to_string
model = r.build("maskrcnn")
model.load_state_dict(torch.load(f"{ref}/weights_zip.pth"))
sizes = json.load(open(f"{ref}/sizes.json"))["images"]
os.makedirs(f"{work}/images")
images, names = [], ["COCO_val2014_000000000042.png", "COCO_val2014_000000000073.png"]
for i, (name, shape) in enumerate(zip(names, sizes)):
    x = np.load(f"{ref}/image{i}.npy").reshape(shape)
    pixels = np.round(x.transpose(1, 2, 0) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(f"{work}/images/{name}")
    images.append(torch.from_numpy(pixels.transpose(2, 0, 1).astype(np.float32) / 255))
results, pooled = [], []
with torch.no_grad():
    for image_id, image in zip((42, 73), images):
        batch, _ = model.transform([image])
        features = model.backbone(batch.tensors)
        h, w = batch.image_sizes[0]
        H, W = batch.tensors.shape[-2:]
        pooled.append(np.concatenate([f[0, :, :-(-h // (H // f.shape[-2])), :-(-w // (W // f.shape[-1]))].mean((1, 2)).numpy()
                                      for f in features.values()]))
        d = model([image])[0]
        for box, score, label, mask in zip(d["boxes"], d["scores"], d["labels"], d["masks"]):
            x1, y1, x2, y2 = box.tolist()
            m = (mask[0] > 0.5).numpy()
            results.append({"image_id": image_id, "category_id": int(label), "bbox": [x1, y1, x2 - x1, y2 - y1],
                            "score": float(score), "counts": to_string(encode(m)), "size": list(m.shape)})
json.dump(results, open(f"{work}/expected.json", "w"))
np.save(f"{work}/pooled.npy", np.stack(pooled))
PY

out="$work/result"
"$IMRET" -q --threads 2 detect "$work/images" --weights "$ref/weights_legacy.pth" -o "$out" --features \
  >"$work/detect.out" 2>"$work/detect.err" || fail "imret detect failed: $(cat "$work/detect.err")"
grep -q "detections in 2 images" "$work/detect.out" || fail "unexpected summary: $(cat "$work/detect.out")"

/usr/bin/python3 - "$work" "$out" <<'PY' || fail "imret detect's outputs differ from torchvision's"
import json, sys
import numpy as np
from PIL import Image
work, out = sys.argv[1:]
ours, theirs = json.load(open(f"{out}/detections.json")), json.load(open(f"{work}/expected.json"))
assert len(ours) == len(theirs) > 0, (len(ours), len(theirs))
for a, b in zip(ours, theirs):
    assert a["image_id"] == b["image_id"] and a["category_id"] == b["category_id"], (a, b)
    assert max(abs(x - y) for x, y in zip(a["bbox"], b["bbox"])) < 1e-3, (a["bbox"], b["bbox"])
    assert abs(a["score"] - b["score"]) < 1e-4, (a["score"], b["score"])
    assert a["segmentation"]["size"] == b["size"] and a["segmentation"]["counts"] == b["counts"], a["image_id"]
for name, (h, w) in (("COCO_val2014_000000000042", (240, 320)), ("COCO_val2014_000000000073", (300, 200))):
    assert Image.open(f"{out}/images/{name}.png").size == (w, h), name
objects = [json.loads(line) for line in open(f"{out}/objects.jsonl")]
for row in objects:
    kept = [r for r in ours if r["image_id"] == row["image_id"] and r["score"] >= 0.5]
    assert sum(c for _, c in row["objects"]) == len(kept), row
    assert row["detections"] == sum(r["image_id"] == row["image_id"] for r in ours)
pooled = np.load(f"{out}/embedding/embeddings.npy")
expected = np.load(f"{work}/pooled.npy")
assert pooled.shape == (2, 1280), pooled.shape
assert np.abs(pooled - expected).max() <= 1e-4 * np.abs(expected).max(), np.abs(pooled - expected).max()
rows = [json.loads(line) for line in open(f"{out}/object_features.jsonl")]
assert np.load(f"{out}/object_features.npy").shape == (len(rows), 1024)
assert len(rows) == sum(r["score"] >= 0.5 for r in ours)
PY

# The embedding of predicted objects is a retrieval set: imret evaluate grades it by those objects.
"$IMRET" -q evaluate -q "$out/embedding" -d "$out/embedding" --exclude-self --knn 0 -o "$work/eval" >"$work/eval.out" 2>"$work/eval.err" ||
  fail "imret evaluate on the detector's embedding failed: $(cat "$work/eval.err")"
json_value "$work/eval/metrics.json" "j[\"modes\"][\"selection\"][\"mAP\"]" >/dev/null || fail "no object-mode metrics: $(cat "$work/eval/metrics.json")"

# Bad input: a corrupt image (fail or skip), a truncated weight file, an existing results folder.
printf 'not a png' >"$work/images/broken.png"
/usr/bin/python3 -c "from PIL import Image; Image.new('RGB', (3000, 1)).save('$work/thin.png')"
expect_error 1 "broken.png" -- "$IMRET" -q detect "$work/images" --weights "$ref/weights_zip.pth" -o "$work/bad" \
  --on-bad-image fail --no-draw
[[ ! -e "$work/bad" ]] || fail "a failed run left its output folder behind: $(ls -A "$work/bad")"
head -c 100000 "$ref/weights_zip.pth" >"$work/truncated.pth"
expect_error 1 "not a folder" -- "$IMRET" -q detect "$work/images" --weights "$ref/weights_zip.pth" -o "$work/truncated.pth"
expect_error 1 "truncated.pth" -- "$IMRET" -q detect "$work/images" --weights "$work/truncated.pth" -o "$work/bad2"
[[ ! -e "$work/bad2" ]] || fail "a run with unreadable weights left an output folder"
expect_error 1 "already holds a detections folder; pass --overwrite" -- "$IMRET" -q detect "$work/images" --weights "$ref/weights_zip.pth" -o "$out"
"$IMRET" -q detect "$work/images/broken.png" "$work/thin.png" "$work/images/COCO_val2014_000000000042.png" --no-draw \
  --weights "$ref/weights_zip.pth" -o "$work/skip" >"$work/skip.out" 2>"$work/skip.err" ||
  fail "--on-bad-image skip failed: $(cat "$work/skip.err")"
grep -q "2 bad images skipped" "$work/skip.out" || fail "the skipped image is not reported: $(cat "$work/skip.out")"
echo "detect e2e: ok"
