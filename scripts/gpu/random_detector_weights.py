"""Random Faster R-CNN / Mask R-CNN weights without torchvision (pure torch + numpy).

For a GPU machine whose Python lacks torchvision, where bench/detection_peer.py and
tests/unit/detect/detector_reference.py cannot run. The keys and shapes are
torchvision's (scripts/gpu/detector_manifest.json, written from
detector_reference.build(arch).state_dict() with Debian's torchvision 0.14); the
values are random, initialised as torchvision initialises them, with frozen batch
norm of random affine and unit statistics (not calibrated as detector_reference.py
does) and the predictors scaled as detector_reference.py scales them.

usage: random_detector_weights.py bench DIR IMAGES    DIR/{fasterrcnn,maskrcnn}.pth, DIR/imageI.npy (480 x 640),
                                                       as `detection_peer.py make` writes them
       random_detector_weights.py reference DIR ARCH  DIR/{weights_zip.pth,sizes.json,image0.npy,image1.npy},
                                                       what the CudaDetector test reads of a reference folder
"""
import json
import math
import os
import sys

import numpy as np
import torch

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "detector_manifest.json")


def state_dict(arch, seed=0):
    with open(MANIFEST) as f:
        manifest = json.load(f)[arch]
    g = torch.Generator().manual_seed(seed)
    batch_norms = {k[: -len(".running_mean")] for k in manifest if k.endswith(".running_mean")}
    state = {}
    for key, (shape, _) in manifest.items():
        prefix, name = key.rsplit(".", 1)
        t = torch.empty(shape)
        if prefix in batch_norms:  # FrozenBatchNorm2d
            if name == "weight":
                t.uniform_(0.5, 1.5, generator=g)
            elif name == "bias":
                t.normal_(0.0, 0.2, generator=g)
            elif name == "running_mean":
                t.zero_()
            else:
                t.fill_(1.0)
        elif len(shape) == 4:  # convolution weight
            out_channels, in_channels, kh, kw = shape
            if key.startswith("rpn.head."):  # torchvision: normal(std=0.01)
                t.normal_(0.0, 0.01, generator=g)
            elif key.startswith("backbone.fpn."):  # torchvision: kaiming_uniform_(a=1)
                bound = math.sqrt(3.0 / (in_channels * kh * kw))
                t.uniform_(-bound, bound, generator=g)
            else:  # ResNet, mask head, mask predictor: kaiming_normal_(fan_out, relu)
                t.normal_(0.0, math.sqrt(2.0 / (out_channels * kh * kw)), generator=g)
        elif len(shape) == 2:  # nn.Linear's default: kaiming_uniform_(a=sqrt(5)) = U(+-1/sqrt(fan_in))
            bound = 1.0 / math.sqrt(shape[1])
            t.uniform_(-bound, bound, generator=g)
        elif name == "bias" and len(manifest.get(prefix + ".weight", [[]])[0]) == 2:  # linear bias, default init
            bound = 1.0 / math.sqrt(manifest[prefix + ".weight"][0][1])
            t.uniform_(-bound, bound, generator=g)
        else:  # convolution biases: torchvision sets them to 0
            t.zero_()
        state[key] = t
    with torch.no_grad():  # as detector_reference.build() does
        state["rpn.head.bbox_pred.weight"].mul_(0.1)
        cls = state["roi_heads.box_predictor.cls_score.weight"]
        cls.sub_(cls.mean(dim=1, keepdim=True)).mul_(0.5)
        state["roi_heads.box_predictor.bbox_pred.weight"].mul_(0.3)
    return state


def image(h, w, seed):
    """detector_reference.image(): a smooth random picture with a few flat rectangles, RGB in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 16 + 1, w // 16 + 1, generator=g)
    img = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)[0]
    for _ in range(4):
        y0, x0 = int(torch.randint(0, h - 20, (1,), generator=g)), int(torch.randint(0, w - 20, (1,), generator=g))
        y1, x1 = y0 + int(torch.randint(10, h // 2, (1,), generator=g)), x0 + int(torch.randint(10, w // 2, (1,), generator=g))
        img[:, y0:y1, x0:x1] = torch.rand(3, 1, 1, generator=g)
    return img.clamp(0, 1)


def save_image(path, img):
    np.save(path, img.reshape(1, -1).numpy().astype(np.float32))


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    os.makedirs(folder, exist_ok=True)
    if mode == "bench":
        for arch in ("fasterrcnn", "maskrcnn"):
            torch.save(state_dict(arch), os.path.join(folder, arch + ".pth"))
        for i in range(int(sys.argv[3])):
            save_image(os.path.join(folder, f"image{i}.npy"), image(480, 640, 100 + i))
    elif mode == "reference":
        torch.save(state_dict(sys.argv[3]), os.path.join(folder, "weights_zip.pth"))
        images = [image(240, 320, 1), image(300, 200, 2)]
        for i, img in enumerate(images):
            save_image(os.path.join(folder, f"image{i}.npy"), img)
        with open(os.path.join(folder, "sizes.json"), "w") as f:
            json.dump({"images": [list(img.shape) for img in images]}, f)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
