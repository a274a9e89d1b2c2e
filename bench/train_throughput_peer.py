"""PyTorch peer of bench/train_throughput.cpp: the same ConvNet and training
step (cross-entropy, or a triplet loss on P x K batches with a batch-hard or
semi-hard miner, written the usual vectorised PyTorch way) on the same
Fashion-MNIST batches; prints images/s on stdout."""
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
                                       nn.BatchNorm1d(embedding_dim))
        self.fc = nn.Linear(embedding_dim, num_classes)

    def embed(self, x):
        return self.embedding(self.features(x))

    def forward(self, x):
        return self.fc(torch.relu(self.embed(x)))


def euclidean_matrix(e):
    sq = (e * e).sum(1)
    return (sq[:, None] + sq[None, :] - 2 * e @ e.t()).clamp_min(1e-12).sqrt()


def mine(e, y, miner, margin):
    """(anchor, positive, negative) index tensors, as imret's miners choose them."""
    with torch.no_grad():
        d = euclidean_matrix(e)
        same = y[:, None] == y[None, :]
        eye = torch.eye(len(y), dtype=torch.bool, device=y.device)
        if miner == "batch-hard":
            anchors = torch.arange(len(y), device=y.device)
            positives = d.masked_fill(~same | eye, -1).argmax(1)
            negatives = d.masked_fill(same, float("inf")).argmin(1)
            return anchors, positives, negatives
        # semi-hard: every n with d_ap < d_an < d_ap + margin
        d_ap = d[:, :, None]
        d_an = d[:, None, :]
        valid = (same & ~eye)[:, :, None] & ~same[:, None, :] & (d_an > d_ap) & (d_an < d_ap + margin)
        return valid.nonzero(as_tuple=True)


def triplet_loss(e, y, miner, margin=0.2):
    e = nn.functional.normalize(e, dim=1)
    a, p, n = mine(e, y, miner, margin)
    d_ap = ((e[a] - e[p]).pow(2).sum(1)).clamp_min(1e-12).sqrt()
    d_an = ((e[a] - e[n]).pow(2).sum(1)).clamp_min(1e-12).sqrt()
    losses = torch.relu(d_ap - d_an + margin)
    nonzero = (losses > 0).sum()
    return losses.sum() / nonzero if nonzero > 0 else losses.sum() * 0


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
    parser.add_argument("--method", default="classification")
    parser.add_argument("--miner", default="batch-hard")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels-last", action="store_true", help="NHWC weights and inputs, as imret runs them")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    images = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    images = ((images - 0.2860) / 0.3530).unsqueeze(1).contiguous()
    labels = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    device = torch.device(args.device)
    images, labels = images.to(device), labels.to(device)
    model = ConvNet().to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, bs = images.shape[0], args.batch_size
    by_class = [torch.nonzero(labels == c).flatten() for c in range(10)]

    def indices(b):
        if args.method == "classification":
            start = (b * bs) % (n - bs)
            return torch.arange(start, start + bs, device=device)
        return torch.cat([members[(b * 25 + torch.arange(25, device=device)) % len(members)] for members in by_class])

    def step(b):
        index = indices(b)
        x, y = images[index], labels[index]
        if args.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        optimizer.zero_grad()
        if args.method == "classification":
            loss = nn.functional.cross_entropy(model(x), y)
        else:
            loss = triplet_loss(model.embed(x), y, args.miner)
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
