"""Peer of bench/feature_extraction.cpp: torchvision's ImageNet feature
extraction (ImageFolder + DataLoader with workers, Resize(256) + CenterCrop(224)
+ Normalize, ResNet-50 with fc removed) on the same JPEG files and threads.

usage: feature_extraction_peer.py make FOLDER COUNT     # writes COUNT JPEG files (fixture)
       feature_extraction_peer.py trace FOLDER          # FOLDER/resnet50.pt: the weights' body, traced
       feature_extraction_peer.py run FOLDER WEIGHTS THREADS WORKERS BATCH
prints images/s of `run` on stdout (WEIGHTS .pt: the TorchScript module)."""
import os
import sys
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms


def make(folder, count):
    rng = np.random.default_rng(0)
    for c in range(4):
        os.makedirs(f"{folder}/train/class{c}", exist_ok=True)
    for i in range(count):
        # Smooth random colour fields at a typical photo size (decode and resize cost like real images).
        small = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
        image = Image.fromarray(small).resize((500, 375), Image.BICUBIC)
        image.save(f"{folder}/train/class{i % 4}/{i:05d}.jpg", quality=90)
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet50().state_dict(), f"{folder}/resnet50.pth")


def resnet50(weights):
    model = torchvision.models.resnet50()
    model.load_state_dict(torch.load(weights))
    model.fc = torch.nn.Identity()
    return model.eval()


def trace(folder):
    with torch.no_grad():
        torch.jit.trace(resnet50(f"{folder}/resnet50.pth"), torch.rand(1, 3, 224, 224)).save(f"{folder}/resnet50.pt")


def run(folder, weights, threads, workers, batch):
    torch.set_num_threads(threads)
    model = torch.jit.load(weights).eval() if weights.endswith(".pt") else resnet50(weights)
    transform = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    dataset = torchvision.datasets.ImageFolder(f"{folder}/train", transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers)
    begin = time.perf_counter()
    count = 0
    with torch.no_grad():
        for images, _ in loader:
            model(images)
            count += images.shape[0]
    print(f"{count / (time.perf_counter() - begin):.2f}")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "trace":
        trace(sys.argv[2])
    else:
        run(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
