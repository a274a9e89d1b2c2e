# ImageNet-style features from a torchvision weight file on a JPEG image folder,
# from embed to evaluate, compared with torchvision's own features.
source "$(dirname "$0")/lib/common.sh"
/usr/bin/python3 "$(dirname "$0")/lib/torchvision_folder.py" "$work"

common=(--arch resnet18 --weights "$work/resnet18.pth" --data "$work/images" --resize 64 --crop 56)
"$IMRET" -q embed "${common[@]}" --split test -o "$work/test" >/dev/null
"$IMRET" -q embed "${common[@]}" --split train -o "$work/train" >/dev/null

/usr/bin/python3 - "$work" <<'PY' || fail "imret's features differ from torchvision's"
import json, sys
import numpy as np
work = sys.argv[1]
ours = np.load(f"{work}/test/embeddings.npy")
sources = [json.loads(line)["source"] for line in open(f"{work}/test/items.jsonl")]
assert sources == sorted(sources), "items are not in class/file order"
tensor_path = np.load(f"{work}/features_tensor.npy")
pil_path = np.load(f"{work}/features_pil.npy")
assert ours.shape == tensor_path.shape == (24, 512), ours.shape
scale = np.abs(tensor_path).max()
tensor_error = np.abs(ours - tensor_path).max()
pil_error = np.abs(ours - pil_path).max() / scale
print(f"max |imret - torchvision (tensor transforms)| = {tensor_error:.2e} (features up to {scale:.2f})")
print(f"max |imret - torchvision (PIL transforms)| / max |features| = {pil_error:.2e}")
# Same decoder output and the same antialiased resize as torchvision on tensors.
assert tensor_error <= 1e-4, tensor_error
# PIL resizes in uint8 (rounding each pixel): a small, bounded difference.
assert pil_error <= 0.03, pil_error
PY

"$IMRET" -q evaluate -q "$work/test" -d "$work/train" -o "$work/eval" --knn 3 >"$work/eval.out"
map=$(json_value "$work/eval/metrics.json" 'j["retrieval"]["mAP"]')
n=$(json_value "$work/eval/metrics.json" 'j["queries"]')
[[ $n -eq 24 ]] || fail "evaluated $n queries, expected 24"
# Random ImageNet-style features still separate these three clothes classes better than chance (1/3).
/usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 0.4 else 1)" "$map" || fail "mAP $map"

# search --image finds the database through the weights recorded in meta.json.
"$IMRET" -q search -d "$work/train" --image "$work/images/test/shirt/000.jpg" -k 3 --json >"$work/search.json"
hits=$(json_value "$work/search.json" 'len(j[0]["results"])')
[[ $hits -eq 3 ]] || fail "search --image returned $hits results"

# Fine-tuning from the weights: with --freeze all-but-last only layer4 and the
# new 3-class fc change; everything else (batch-norm statistics included) stays.
"$IMRET" -q train "${common[@]}" --freeze all-but-last --epochs 1 --batch-size 8 --val-fraction 0 \
  --workers 1 --out "$work/finetune" >"$work/train.out" 2>"$work/train.err" || fail "fine-tuning failed: $(cat "$work/train.err")"
/usr/bin/python3 - "$work" <<'PY' || fail "--freeze all-but-last changed frozen weights or left layer4 alone"
import json, struct, sys
import numpy as np
import torch
work = sys.argv[1]
original = torch.load(f"{work}/resnet18.pth")
blob = open(f"{work}/finetune/checkpoints/last.safetensors", "rb").read()
n = struct.unpack("<Q", blob[:8])[0]
header = json.loads(blob[8:8 + n])
def tensor(name):
    e = header[name]
    dtype = {"F32": "<f4", "I64": "<i8"}[e["dtype"]]
    start, end = e["data_offsets"]
    return np.frombuffer(blob[8 + n + start:8 + n + end], dtype=dtype).reshape(e["shape"])
assert np.array_equal(tensor("conv1.weight"), original["conv1.weight"].numpy())
assert np.array_equal(tensor("layer3.1.bn2.running_mean"), original["layer3.1.bn2.running_mean"].numpy())
assert not np.array_equal(tensor("layer4.1.conv2.weight"), original["layer4.1.conv2.weight"].numpy())
assert tensor("fc.weight").shape == (3, 512)
PY
grep -q "classifier fc not loaded" "$work/train.err" || fail "the replaced classifier was not reported"

# A weight file for another architecture: one clear line naming the file.
expect_error 1 "resnet18.pth: weights do not fit" -- "$IMRET" embed --arch resnet34 --weights "$work/resnet18.pth" --data "$work/images" -o "$work/x"
echo "torchvision_weights: mAP $map"
