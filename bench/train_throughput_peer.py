"""PyTorch peer of bench/train_throughput.cpp: the same ConvNet and training
step on the same Fashion-MNIST images; prints images/s on stdout."""
import argparse
import gzip
import time

import numpy as np
import torch
from torch import nn


def conv_block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class ConvNet(nn.Module):
    def __init__(self, embedding_dim=64, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(*conv_block(1, 32), *conv_block(32, 32), nn.MaxPool2d(2),
                                      *conv_block(32, 64), *conv_block(64, 64), nn.MaxPool2d(2),
                                      nn.AdaptiveAvgPool2d((7, 7)))
        self.embedding = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, embedding_dim, bias=False),
                                       nn.BatchNorm1d(embedding_dim), nn.ReLU(inplace=True))
        self.fc = nn.Linear(embedding_dim, num_classes)

    def forward(self, x):
        return self.fc(self.embedding(self.features(x)))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    images = ((images - 0.2860) / 0.3530).unsqueeze(1).contiguous()
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    model = ConvNet()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, bs = images.shape[0], args.batch_size

    def step(b):
        start = (b * bs) % (n - bs)
        x, y = images[start:start + bs], labels[start:start + bs]
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    for b in range(args.warmup):
        step(b)
    begin = time.perf_counter()
    for b in range(args.batches):
        step(args.warmup + b)
    seconds = time.perf_counter() - begin
    print(f"{args.batches * bs / seconds:.1f}")


if __name__ == "__main__":
    main()
