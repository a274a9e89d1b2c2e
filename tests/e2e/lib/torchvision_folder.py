"""Test fixture: an image folder of JPEG files made from Fashion-MNIST, a
torchvision ResNet-18 weight file, and torchvision's features of the test split.

usage: torchvision_folder.py OUT_DIR

Writes OUT_DIR/images/{train,test}/<class>/*.jpg (3 classes, 80x80 RGB, so that
Resize(64) downscales with antialiasing),
OUT_DIR/resnet18.pth (random weights, seed 0, batch norm calibrated), and the
pooled features torchvision computes for images/test in file order (classes
sorted, files sorted), with Resize(64) + CenterCrop(56) + ImageNet Normalize:
  features_tensor.npy  transforms on tensors (decode with PIL, ToTensor first)
  features_pil.npy     transforms on PIL images (uint8 resize), the classic path
"""
import gzip
import os
import sys

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms

out = sys.argv[1]
images = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read(), np.uint8,
                       offset=16).reshape(-1, 28, 28)
labels = np.frombuffer(gzip.open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz").read(), np.uint8,
                       offset=8)
classes = {0: "shirt", 1: "trouser", 7: "sneaker"}
counts = {"train": 24, "test": 8}
index = 0
for split, count in counts.items():
    for label, name in classes.items():
        folder = f"{out}/images/{split}/{name}"
        os.makedirs(folder, exist_ok=True)
        chosen = np.flatnonzero(labels == label)[index:index + count]
        for i, item in enumerate(chosen):
            grey = Image.fromarray(images[item]).resize((80, 80), Image.BILINEAR)
            rgb = Image.merge("RGB", (grey, grey.point(lambda v: v // 2), grey.point(lambda v: 255 - v)))
            rgb.save(f"{folder}/{i:03d}.jpg", quality=90)
    index += counts["train"]

torch.manual_seed(0)
model = torchvision.models.resnet18()
model.train()
for module in model.modules():
    if isinstance(module, torch.nn.BatchNorm2d):
        module.momentum = None
with torch.no_grad():
    for _ in range(3):
        model(torch.rand(8, 3, 56, 56) * 4 - 2)
model.eval()
torch.save(model.state_dict(), f"{out}/resnet18.pth")
model.fc = torch.nn.Identity()

normalize = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
on_tensors = transforms.Compose([transforms.ToTensor(), transforms.Resize(64, antialias=True),
                                 transforms.CenterCrop(56), normalize])
on_pil = transforms.Compose([transforms.Resize(64), transforms.CenterCrop(56), transforms.ToTensor(), normalize])
files = [f"{out}/images/test/{name}/{f}" for name in sorted(classes.values())
         for f in sorted(os.listdir(f"{out}/images/test/{name}"))]
for name, transform in (("tensor", on_tensors), ("pil", on_pil)):
    batch = torch.stack([transform(Image.open(f).convert("RGB")) for f in files])
    with torch.no_grad():
        np.save(f"{out}/features_{name}.npy", model(batch).numpy())
