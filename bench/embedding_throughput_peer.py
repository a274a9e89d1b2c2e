"""Peer of bench/embedding_throughput.cpp: torchvision's ResNet-50 (fc removed)
in channels-last layout under torch.autocast, the way PyTorch's performance
guide runs inference.

usage: embedding_throughput_peer.py tensors|jpeg FOLDER DEVICE PRECISION BATCH BATCHES WORKERS THREADS
prints images/s on stdout. PRECISION: fp32 (TF32 off), tf32 (TF32 on), bf16 or
fp16 (autocast)."""
import sys
import time

import torch
import torchvision
from torchvision import transforms


def model_for(folder, device):
    model = torchvision.models.resnet50()
    model.load_state_dict(torch.load(f"{folder}/resnet50.pth"))
    model.fc = torch.nn.Identity()
    return model.eval().to(device, memory_format=torch.channels_last)


def precision_context(device, precision):
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.allow_tf32 = precision == "tf32"
        torch.backends.cudnn.benchmark = True
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return torch.autocast("cuda" if cuda else "cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None)


def synchronize(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def tensors(folder, device, precision, batch, batches):
    model = model_for(folder, device)
    images = torch.rand(batch, 3, 224, 224).to(device, memory_format=torch.channels_last)
    with torch.inference_mode(), precision_context(device, precision):
        for _ in range(3):
            model(images)
        synchronize(device)
        begin = time.perf_counter()
        for _ in range(batches):
            model(images)
        synchronize(device)
    return batch * batches / (time.perf_counter() - begin)


def jpeg(folder, device, precision, batch, workers):
    model = model_for(folder, device)
    transform = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    dataset = torchvision.datasets.ImageFolder(f"{folder}/train", transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers,
                                         pin_memory=device.startswith("cuda"))
    count = 0
    outputs = []
    begin = time.perf_counter()
    with torch.inference_mode(), precision_context(device, precision):
        for images, _ in loader:
            images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            outputs.append(model(images).float())
            count += images.shape[0]
        torch.cat(outputs).cpu()
    return count / (time.perf_counter() - begin)


if __name__ == "__main__":
    source, folder, device, precision = sys.argv[1:5]
    batch, batches, workers, threads = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
    torch.set_num_threads(threads)  # imret's intra-op threads
    rate = tensors(folder, device, precision, batch, batches) if source == "tensors" else \
        jpeg(folder, device, precision, batch, workers)
    print(f"{rate:.2f}")
