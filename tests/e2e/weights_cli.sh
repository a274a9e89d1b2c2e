# imret weights info/convert on torchvision weight files written by Debian's
# PyTorch, in both .pth formats; conversion to safetensors keeps every key,
# shape and value; bad files give one error line and exit 1.
source "$(dirname "$0")/lib/common.sh"

/usr/bin/python3 - "$work" <<'PY'
import sys, torch, torchvision
out = sys.argv[1]
torch.manual_seed(0)
sd = torchvision.models.resnet18().state_dict()
torch.save(sd, f"{out}/resnet18.pth")
torch.save(sd, f"{out}/resnet18_legacy.pth", _use_new_zipfile_serialization=False)
with open(f"{out}/checksums.txt", "w") as f:
    for k, v in sd.items():
        f.write(f"{k} {v.double().sum().item():.10e}\n")
PY

# info: table and JSON, both formats.
"$IMRET" weights info "$work/resnet18.pth" >"$work/info.txt"
grep -q "pth-zip, 122 tensors, 11699132 parameters" "$work/info.txt" || fail "info header: $(head -1 "$work/info.txt")"
grep -qE "^conv1.weight +float32 +\[64, 3, 7, 7\] +9408$" "$work/info.txt" || fail "info lacks conv1.weight"
grep -qE "^bn1.num_batches_tracked +int64 +\[\] +1$" "$work/info.txt" || fail "info lacks num_batches_tracked"
"$IMRET" weights info --json "$work/resnet18_legacy.pth" >"$work/legacy.json"
[[ $(json_value "$work/legacy.json" 'j["format"]') == pth-legacy ]] || fail "legacy format not reported"
[[ $(json_value "$work/legacy.json" 'j["tensor_count"]') == 122 ]] || fail "legacy: not 122 tensors"
[[ $(json_value "$work/legacy.json" 'j["total_parameters"]') == 11699132 ]] || fail "legacy: wrong parameter count"
"$IMRET" weights info --json "$work/resnet18.pth" >"$work/zip.json"
/usr/bin/python3 - "$work/zip.json" "$work/legacy.json" <<'PY' || fail "zip and legacy info differ"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["tensors"] == b["tensors"], "tensors differ"
assert a["tensors"][0] == {"name": "conv1.weight", "dtype": "float32", "shape": [64, 3, 7, 7], "parameters": 9408}
PY

# convert: same keys, shapes and values; metadata names the source.
"$IMRET" weights convert "$work/resnet18_legacy.pth" "$work/converted/resnet18.safetensors" >/dev/null
"$IMRET" weights info --json "$work/converted/resnet18.safetensors" >"$work/st.json"
[[ $(json_value "$work/st.json" 'j["format"]') == safetensors ]] || fail "converted file is not safetensors"
[[ $(json_value "$work/st.json" 'j["metadata"]["source"]') == resnet18_legacy.pth ]] || fail "metadata lacks the source"
[[ $(json_value "$work/st.json" 'j["metadata"]["source_format"]') == pth-legacy ]] || fail "metadata lacks the source format"
/usr/bin/python3 - "$work/zip.json" "$work/st.json" "$work/converted/resnet18.safetensors" "$work/checksums.txt" <<'PY' || fail "converted file differs"
import json, struct, sys
import numpy as np
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["tensors"] == b["tensors"], "keys/shapes/dtypes differ after convert"
raw = open(sys.argv[3], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
types = {"F32": np.float32, "I64": np.int64}
for line in open(sys.argv[4]):
    key, expected = line.split()
    e = header[key]
    begin, end = e["data_offsets"]
    value = np.frombuffer(data[begin:end], dtype=types[e["dtype"]]).astype(np.float64).sum()
    assert f"{value:.10e}" == expected or abs(value - float(expected)) <= 1e-9 * max(1.0, abs(float(expected))), (key, value, expected)
PY

# Errors: one line, exit 1 (2 for usage errors); a failed convert writes nothing.
printf 'not weights at all' >"$work/garbage.pth"
expect_error 1 "garbage.pth: not a PyTorch \(.pth\) or safetensors file" -- "$IMRET" weights info "$work/garbage.pth"
head -c 5000 "$work/resnet18.pth" >"$work/cut.pth"
expect_error 1 "cut.pth: truncated or corrupt zip archive" -- "$IMRET" weights info "$work/cut.pth"
head -c 5000000 "$work/resnet18_legacy.pth" >"$work/cut_legacy.pth"
expect_error 1 "cut_legacy.pth: truncated file" -- "$IMRET" weights convert "$work/cut_legacy.pth" "$work/cut.safetensors"
[[ ! -e $work/cut.safetensors ]] || fail "a failed convert left a file behind"
/usr/bin/python3 - "$work/evil.pth" <<'PY'
import pickle, sys
header = b"".join(pickle.dumps(o, protocol=2) for o in (0x1950a86a20f9469cfc6c, 1001, {"little_endian": True}))
open(sys.argv[1], "wb").write(header + b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R.")
PY
expect_error 1 "evil.pth: pickle asks for global 'os.system', which imret does not load" -- "$IMRET" weights info "$work/evil.pth"
expect_error 1 "no/such.pth: no such file" -- "$IMRET" weights info "$work/no/such.pth"
expect_error 2 "must end in .safetensors" -- "$IMRET" weights convert "$work/resnet18.pth" "$work/out.pth"
echo "weights_cli: ok"
