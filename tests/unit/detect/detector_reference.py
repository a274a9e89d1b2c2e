"""Reference outputs of torchvision's detectors for imret's parity tests.

usage: detector_reference.py ARCH OUT_DIR     (ARCH: fasterrcnn | maskrcnn)

Builds torchvision 0.14's fasterrcnn_resnet50_fpn / maskrcnn_resnet50_fpn
exactly as it is with the COCO v1 weights (ResNet-50 with FrozenBatchNorm2d of
eps 0, FPN with the max-pool level, 91 classes), with random weights (seed 0):
the ResNet's batch-norm statistics are calibrated on random images so that
activations stay in a realistic range, and the predictors are scaled up so
that detections survive the score threshold. Writes into OUT_DIR:
  weights_zip.pth     state_dict in the zip format, current (0.13+) key spelling
  weights_legacy.pth  the same tensors in the legacy format, pre-0.13 key spelling
  images.npy          the two input images, 3 x H x W each, flattened (1 x 3HW each file: image0.npy, image1.npy)
  sizes.json          their sizes, the batch's size and image_sizes, the count of everything below
  batch.npy           the transformed, padded batch (N x 3HW)
  features_L.npy      pyramid level L (0..4) of the batch (N*256 x h*w)
  proposals_I.npy     RPN proposals of image I (K x 4)
  boxes_I.npy, scores_I.npy, labels_I.npy, masks_I.npy   the final detections of image I
"""
import json
import os
import sys

import numpy as np
import torch
import torchvision
from torchvision.models.detection import FasterRCNN, MaskRCNN
from torchvision.models.detection._utils import overwrite_eps
from torchvision.models.detection.backbone_utils import _resnet_fpn_extractor
from torchvision.ops.misc import FrozenBatchNorm2d

# Convolutions round differently with different thread counts: the parity
# tests run imret with this many threads too.
torch.set_num_threads(2)


def calibrated_resnet50():
    plain = torchvision.models.resnet50()
    for m in plain.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # cumulative average
            m.reset_running_stats()
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0.0, 0.2)
    plain.train()
    with torch.no_grad():
        for _ in range(2):
            plain(torch.rand(4, 3, 128, 128) * 4 - 2)
    frozen = torchvision.models.resnet50(norm_layer=FrozenBatchNorm2d)
    frozen.load_state_dict(plain.state_dict())
    return frozen


def build(arch):
    torch.manual_seed(0)
    backbone = _resnet_fpn_extractor(calibrated_resnet50(), 3)
    model = (MaskRCNN if arch == "maskrcnn" else FasterRCNN)(backbone, num_classes=91)
    overwrite_eps(model, 0.0)
    with torch.no_grad():
        model.rpn.head.bbox_pred.weight.mul_(0.1)
        cls = model.roi_heads.box_predictor.cls_score.weight
        cls.sub_(cls.mean(dim=1, keepdim=True)).mul_(0.5)  # no class wins on every box
        model.roi_heads.box_predictor.bbox_pred.weight.mul_(0.3)
    return model.eval()


def old_spelling(key):
    """torchvision < 0.13's names of the FPN, RPN head and mask head convolutions."""
    parts = key.split(".")
    if key.startswith("backbone.fpn.") and parts[2] in ("inner_blocks", "layer_blocks") and parts[4] == "0":
        return ".".join(parts[:4] + parts[5:])
    if key.startswith("rpn.head.conv.0.0."):
        return "rpn.head.conv." + parts[-1]
    if key.startswith("roi_heads.mask_head.") and parts[3] == "0":
        return f"roi_heads.mask_head.mask_fcn{int(parts[2]) + 1}.{parts[-1]}"
    return key


def image(h, w, seed):
    """A smooth random picture with a few flat rectangles, RGB in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 16 + 1, w // 16 + 1, generator=g)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]
    for _ in range(4):
        y0, x0 = int(torch.randint(0, h - 20, (1,), generator=g)), int(torch.randint(0, w - 20, (1,), generator=g))
        y1, x1 = y0 + int(torch.randint(10, h // 2, (1,), generator=g)), x0 + int(torch.randint(10, w // 2, (1,), generator=g))
        img[:, y0:y1, x0:x1] = torch.rand(3, 1, 1, generator=g)
    return img.clamp(0, 1)


def save(path, tensor):
    t = tensor.detach().float().contiguous()
    rows = t.shape[0] if t.dim() > 1 else 1
    np.save(path, t.reshape(rows, t.numel() // rows if rows else 0).numpy())


def main():
    arch, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    model = build(arch)
    state = model.state_dict()
    torch.save(state, os.path.join(out, "weights_zip.pth"))
    old = {old_spelling(k): v for k, v in state.items()}
    assert len(old) == len(state)
    torch.save(old, os.path.join(out, "weights_legacy.pth"), _use_new_zipfile_serialization=False)

    images = [image(240, 320, 1), image(300, 200, 2)]
    with torch.no_grad():
        batch, _ = model.transform(images)
        features = model.backbone(batch.tensors)
        proposals, _ = model.rpn(batch, features)
        detections, _ = model.roi_heads(features, proposals, batch.image_sizes)
        detections = model.transform.postprocess(detections, batch.image_sizes, [im.shape[-2:] for im in images])
        direct = model(images)
    for a, b in zip(detections, direct):  # the stages run one by one are the model
        assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["labels"], b["labels"])

    info = {"images": [list(im.shape) for im in images], "batch": list(batch.tensors.shape),
            "image_sizes": [list(s) for s in batch.image_sizes],
            "features": [list(f.shape) for f in features.values()],
            "proposals": [int(p.shape[0]) for p in proposals], "detections": [int(d["boxes"].shape[0]) for d in detections]}
    for i, im in enumerate(images):
        save(os.path.join(out, f"image{i}.npy"), im.reshape(1, -1))
    save(os.path.join(out, "batch.npy"), batch.tensors)
    for level, f in enumerate(features.values()):
        save(os.path.join(out, f"features_{level}.npy"), f.reshape(-1, f.shape[-2] * f.shape[-1]))
    for i, (p, d) in enumerate(zip(proposals, detections)):
        save(os.path.join(out, f"proposals_{i}.npy"), p.reshape(-1, 4))
        save(os.path.join(out, f"boxes_{i}.npy"), d["boxes"].reshape(-1, 4))
        save(os.path.join(out, f"scores_{i}.npy"), d["scores"].reshape(1, -1))
        save(os.path.join(out, f"labels_{i}.npy"), d["labels"].reshape(1, -1))
        if "masks" in d:
            m = d["masks"]
            save(os.path.join(out, f"masks_{i}.npy"), m)
    with open(os.path.join(out, "sizes.json"), "w") as f:
        json.dump(info, f)


if __name__ == "__main__":
    main()
