#!/usr/bin/python3
"""Reference for nms_test.cpp and roi_align_test.cpp: torchvision.ops (0.14)
nms, batched_nms (the public function and its per-group "vanilla" path) and
roi_align.

Usage: ops_reference.py DIR. Every sub-folder of DIR is one case, described by
its op.txt, one line:
  nms DTYPE IOU_THRESHOLD
  batched_nms DTYPE IOU_THRESHOLD
  roi_align DTYPE POOLED_H POOLED_W SPATIAL_SCALE SAMPLING_RATIO ALIGNED(0/1)
DTYPE is float32 or float64. Inputs are .npy float32 rows (the tests' save());
a float64 input X comes as X_hi.npy and X_lo.npy, float32 parts whose float64
sum is the value (exact on both sides). nms reads boxes (K x 4) and scores
(K x 1); batched_nms also groups (K x 1, integer values); roi_align reads input
(N x C*H*W, shape in shape.npy: N C H W) and rois (K x 5).
Writes into the case folder:
  nms:         keep.npy (kept indices as float32, exact below 2^24)
  batched_nms: keep.npy (the vanilla path), keep_public.npy (batched_nms itself)
  roi_align:   out.npy (K x C*PH*PW float32); for float64, out_hi.npy and
               out_lo.npy (float32 parts, hi + lo = the value to ~1e-14)
"""
import os
import sys

import numpy as np
import torch
from torchvision.ops import batched_nms, nms, roi_align
from torchvision.ops.boxes import _batched_nms_vanilla


def load(folder, name, dtype):
    if dtype == torch.float64:
        hi = np.load(os.path.join(folder, name + "_hi.npy")).astype(np.float64)
        lo = np.load(os.path.join(folder, name + "_lo.npy")).astype(np.float64)
        return torch.from_numpy(hi + lo)
    return torch.from_numpy(np.load(os.path.join(folder, name + ".npy")).astype(np.float32))


def save(folder, name, tensor):
    values = tensor.detach().numpy()
    values = values.reshape(values.shape[0], -1) if values.ndim > 1 else values
    if values.dtype == np.float64:
        hi = values.astype(np.float32)
        lo = (values - hi.astype(np.float64)).astype(np.float32)
        np.save(os.path.join(folder, name + "_hi.npy"), hi)
        np.save(os.path.join(folder, name + "_lo.npy"), lo)
    else:
        np.save(os.path.join(folder, name + ".npy"), values.astype(np.float32))


def run_case(folder):
    with open(os.path.join(folder, "op.txt")) as f:
        fields = f.read().split()
    op, dtype = fields[0], {"float32": torch.float32, "float64": torch.float64}[fields[1]]
    if op in ("nms", "batched_nms"):
        threshold = float(fields[2])
        boxes = load(folder, "boxes", dtype).reshape(-1, 4)
        scores = load(folder, "scores", dtype).reshape(-1)
        if op == "nms":
            save(folder, "keep", nms(boxes, scores, threshold).float())
        else:
            groups = load(folder, "groups", torch.float32).reshape(-1).round().long()
            save(folder, "keep", _batched_nms_vanilla(boxes, scores, groups, threshold).float())
            save(folder, "keep_public", batched_nms(boxes, scores, groups, threshold).float())
    elif op == "roi_align":
        pooled_h, pooled_w = int(fields[2]), int(fields[3])
        scale, sampling, aligned = float(fields[4]), int(fields[5]), fields[6] == "1"
        shape = [int(v) for v in np.load(os.path.join(folder, "shape.npy")).ravel()]
        features = load(folder, "input", dtype).reshape(shape)
        rois = load(folder, "rois", dtype).reshape(-1, 5)
        out = roi_align(features, rois, (pooled_h, pooled_w), scale, sampling, aligned)
        save(folder, "out", out)
    else:
        raise SystemExit(f"{folder}: unknown op {op}")


def main():
    torch.set_num_threads(1)
    root = sys.argv[1]
    for name in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, name)):
            run_case(os.path.join(root, name))


if __name__ == "__main__":
    main()
