#!/usr/bin/python3
"""Writes the fuzzers' seed corpora, fuzz/seeds/<fuzzer>/: small real files of
each format (a few KB each), committed so that a run needs no Python.

    /usr/bin/python3 fuzz/make_seeds.py     # Debian's numpy and torch

Multi-file inputs (idx, items, index manifest) hold their files separated by
the line "%%%%" (imret_fuzz::kPartSeparator in fuzz/fuzz_input.hpp).
fuzz/seeds/image_header_fuzzer/ belongs to the image header fuzzer and is not
written here.
"""
import collections
import gzip
import io
import json
import os
import shutil
import struct
import sys
import zipfile

import numpy as np
import torch

SEPARATOR = b"\n%%%%\n"
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
FUZZERS = ["pickle_fuzzer", "safetensors_fuzzer", "zip_fuzzer", "npy_fuzzer", "idx_fuzzer", "coco_json_fuzzer",
           "yaml_config_fuzzer", "items_fuzzer", "index_manifest_fuzzer"]


def write(fuzzer, name, data):
    with open(os.path.join(ROOT, fuzzer, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def joined(*parts):
    return SEPARATOR.join(p if isinstance(p, bytes) else p.encode() for p in parts)


def state_dict():
    torch.manual_seed(0)
    base = torch.arange(12, dtype=torch.float32)
    sd = collections.OrderedDict()
    sd["w"] = torch.randn(2, 3)
    sd["h"] = torch.ones(2).half()
    sd["n"] = torch.tensor(7)
    sd["m"] = torch.tensor([True, False])
    sd["t"] = base.view(3, 4).t()
    sd["s"] = base[4:]
    sd["e"] = torch.empty(0)
    sd["p"] = torch.nn.Parameter(torch.zeros(1))
    return sd


def torch_bytes(obj, **options):
    buffer = io.BytesIO()
    torch.save(obj, buffer, **options)
    return buffer.getvalue()


def pickle_seeds(sd):
    for name, options in [("zip", {}), ("legacy", {"_use_new_zipfile_serialization": False}),
                          ("zip_p4", {"pickle_protocol": 4}),
                          ("legacy_p4", {"_use_new_zipfile_serialization": False, "pickle_protocol": 4})]:
        write("pickle_fuzzer", name + ".pth", torch_bytes(sd, **options))
    checkpoint = {"model": sd, "epoch": 1, "nested": [torch.ones(1), {"x": torch.zeros(1)}]}
    write("pickle_fuzzer", "checkpoint.pth", torch_bytes(checkpoint))


def safetensors_bytes(tensors):
    """safetensors, written by hand (the Python package is not installed)."""
    header, data = {"__metadata__": {"format": "pt"}}, b""
    names = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64", torch.bool: "BOOL"}
    for key, t in tensors.items():
        raw = t.contiguous().numpy().tobytes()
        header[key] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds(sd):
    write("safetensors_fuzzer", "small.safetensors", safetensors_bytes({k: v.detach() for k, v in sd.items() if k != "e"}))
    write("safetensors_fuzzer", "one.safetensors", safetensors_bytes({"x": torch.ones(3)}))


def zip_seeds(sd):
    write("zip_fuzzer", "torch.pth", torch_bytes({"x": torch.arange(4.0)}))
    for name, method in [("stored.zip", zipfile.ZIP_STORED), ("deflated.zip", zipfile.ZIP_DEFLATED)]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", method) as z:
            z.writestr("archive/data.pkl", b"\x80\x02}q\x00." * 8)
            z.writestr("archive/data/0", bytes(range(64)) * 2)
            z.writestr("empty", b"")
            z.comment = b"a comment"
        write("zip_fuzzer", name, buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("big", "w", force_zip64=True) as f:  # zip64 extra fields
            f.write(b"zip64 " * 40)
    write("zip_fuzzer", "zip64.zip", buffer.getvalue())
    write("zip_fuzzer", "empty.zip", b"PK\x05\x06" + bytes(18))


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    if version is None:
        np.save(buffer, array)
    else:
        np.lib.format.write_array(buffer, array, version=version)
    return buffer.getvalue()


def npy_seeds():
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    write("npy_fuzzer", "matrix.npy", npy_bytes(matrix))
    write("npy_fuzzer", "vector.npy", npy_bytes(np.ones(5, dtype=np.float32)))
    write("npy_fuzzer", "empty.npy", npy_bytes(np.zeros((0, 3), dtype=np.float32)))
    write("npy_fuzzer", "v2.npy", npy_bytes(matrix, version=(2, 0)))
    write("npy_fuzzer", "v3.npy", npy_bytes(matrix, version=(3, 0)))
    write("npy_fuzzer", "float64.npy", npy_bytes(matrix.astype(np.float64)))
    write("npy_fuzzer", "fortran.npy", npy_bytes(np.asfortranarray(matrix)))
    write("npy_fuzzer", "three_d.npy", npy_bytes(np.zeros((2, 2, 2), dtype=np.float32)))


def idx_file(array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def idx_seeds():
    images = (np.arange(3 * 4 * 5) % 256).reshape(3, 4, 5)
    labels = np.array([0, 2, 1])
    plain_images, plain_labels = idx_file(images), idx_file(labels)
    write("idx_fuzzer", "plain.idx", joined(plain_images, plain_labels))
    write("idx_fuzzer", "gzip.idx", joined(gzip.compress(plain_images, mtime=0), gzip.compress(plain_labels, mtime=0)))
    # two gzip members, as `cat a.gz b.gz` makes
    write("idx_fuzzer", "members.idx", joined(gzip.compress(plain_images[:20], mtime=0) + gzip.compress(plain_images[20:], mtime=0),
                                              plain_labels))
    write("idx_fuzzer", "empty.idx", joined(idx_file(np.zeros((0, 2, 2))), idx_file(np.zeros(0))))


def coco_seeds():
    instances = {
        "info": {"description": "seed", "year": 2014},
        "licenses": [{"url": "", "id": 1, "name": "unknown"}],
        "images": [{"license": 1, "file_name": "a.jpg", "height": 4, "width": 6, "id": 9},
                   {"license": 1, "file_name": "b\u00e9.jpg", "height": 5, "width": 3, "id": 12}],
        "annotations": [
            {"segmentation": [[0, 0, 2, 0, 2, 2, 0, 2]], "area": 4.0, "iscrowd": 0, "image_id": 9,
             "bbox": [0, 0, 2, 2], "category_id": 18, "id": 1},
            {"segmentation": {"counts": [0, 3, 12], "size": [5, 3]}, "area": 3.0, "iscrowd": 1, "image_id": 12,
             "bbox": [0.5, 0, 1, 3], "category_id": 1, "id": 2},
            {"segmentation": [[1, 1, 3, 1, 3, 3]], "area": 2.5, "iscrowd": False, "image_id": 12,
             "bbox": [1, 1, 2, 2], "category_id": 18, "id": 3}],
        "categories": [{"supercategory": "person", "id": 1, "name": "person"},
                       {"supercategory": "animal", "id": 18, "name": "dog"},
                       {"supercategory": "animal", "id": 90, "name": "tooth\\brush"}],
    }
    write("coco_json_fuzzer", "instances.json", json.dumps(instances, indent=1))
    write("coco_json_fuzzer", "instances_compact.json", json.dumps(instances, separators=(",", ":")))
    splits = {"train": {"1": [12, 9], "18": [9]}, "database": {"18": [12]}, "val": {}, "test": {"-3": [1]}}
    write("coco_json_fuzzer", "splits.json", json.dumps(splits, indent=1))


def yaml_seeds():
    write("yaml_config_fuzzer", "triplet.yaml", """# training settings
method: triplet
miner: semi-hard
distance: cosine
margin: 0.2
arch: convnet
embedding_dim: 64
epochs: 3
schedule: cosine
lr: 0.001
seed: 0
classes_per_batch: 10
images_per_class: 25
weights_prefix: module.
""")
    write("yaml_config_fuzzer", "nested.yaml", """method: siamese
network: {arch: resnet18, embedding_dim: 128, head_dim: 32, learned_metric: false}
preprocess:
  resize: 72
  crop: 64
  mean: [0.485, 0.456, 0.406]
  std: [0.229, 0.224, 0.225]
optimizer: sgd
momentum: 0.9
weight_decay: 1.0e-4
schedule: step
step_size: 2
gamma: 0.5
augment: true
normalize: false
tuples: offline
batch_size: 64
val_fraction: 0.0
weights: "w.pth"
weights_prefix: [module., +backbone.]
freeze: backbone
""")
    write("yaml_config_fuzzer", "anchors.yaml", """defaults: &defaults
  lr: 1e-3
  epochs: 2
method: classification
<<: *defaults
device: "cpu"
on_bad_image: 'skip'
limit: ~
positive_overlap: .5
negatives: below-overlap
early_stop: 1
clip_grad_norm: 1.0
""")
    write("yaml_config_fuzzer", "bad.yaml", "method: [unclosed\n  - a: b\n")


def item_lines(with_objects):
    lines = []
    for i in range(3):
        item = {"index": i, "source": f"/data/img{i}.jpg", "label": i % 2, "class": "cat" if i % 2 else "dog"}
        if with_objects:
            item["objects"] = [[0, 1], [2, 3]] if i else []
        lines.append(json.dumps(item))
    return "\n".join(lines) + "\n"


def items_seeds():
    meta = {"checkpoint": "runs/train/best.safetensors", "data": "/usr/share/datasets/fashion-mnist",
            "split": "test", "count": 3, "dimension": 1, "bad_images": [], "metric": "cosine"}
    write("items_fuzzer", "items_meta", joined(item_lines(False), json.dumps(meta, indent=2)))
    write("items_fuzzer", "objects_meta", joined(item_lines(True), "{}"))
    write("items_fuzzer", "items_only", item_lines(False) + "\n  \n" + '{"source": "x", "label": -1}\n')


def index_seeds():
    manifest = {"format": "imret-index-1", "imret_version": "0.1.0", "backend": "exact:l2", "metric": "euclidean",
                "dimension": 2, "count": 3, "index_file": "vectors.npy", "items_file": "items.jsonl",
                "parameters": {}, "trained_on": 0, "sources": ["runs/embed"],
                "embedding_meta": {"network": {"arch": "convnet"}}}
    write("index_manifest_fuzzer", "exact_l2", joined(json.dumps(manifest, indent=2), item_lines(False)))
    cosine = dict(manifest, backend="exact:cosine", metric="cosine", count=0, dimension=0, parameters={"nprobe": 4})
    write("index_manifest_fuzzer", "exact_cosine_empty", joined(json.dumps(cosine), ""))
    faiss = dict(manifest, backend="faiss:IVF4,Flat", index_file="index.faiss", trained_on=3)
    write("index_manifest_fuzzer", "faiss", joined(json.dumps(faiss), item_lines(True)))


def main():
    for fuzzer in FUZZERS:
        shutil.rmtree(os.path.join(ROOT, fuzzer), ignore_errors=True)
        os.makedirs(os.path.join(ROOT, fuzzer))
    sd = state_dict()
    pickle_seeds(sd)
    safetensors_seeds(sd)
    zip_seeds(sd)
    npy_seeds()
    idx_seeds()
    coco_seeds()
    yaml_seeds()
    items_seeds()
    index_seeds()


if __name__ == "__main__":
    sys.exit(main())
