#!/usr/bin/env python3
"""Reference values for tests/unit/learn/loss_test.cpp, in plain PyTorch.

Usage: loss_reference.py DIR. Reads DIR/embeddings.npy (N x D float32),
DIR/labels.npy (N x 1), DIR/triplets.npy (T x 3: anchor, positive, negative)
and DIR/proxies.npy (C x D); writes DIR/<loss>_value.npy (1 x 1) and
DIR/<loss>_grad.npy (gradient w.r.t. the embeddings, N x D) for:
  triplet          torch.nn.TripletMarginLoss(margin=0.2, p=2) on the triplets
  contrastive      euclidean, all pairs, pos_margin 0.25, neg_margin 1.0,
                   mean of the non-zero positive losses + mean of the non-zero
                   negative losses (pytorch-metric-learning's reduction)
  quadruplet       euclidean, the triplets, margins 0.3 and 0.2 (Chen et al.
                   2017): mean non-zero relu(d_ap - d_an + 0.3) + mean non-zero
                   relu(d_ap - d_nk + 0.2) over k with neither a's nor n's label
  multisim         multi-similarity loss (alpha 2, beta 50, base 0.5), all pairs,
                   written anchor by anchor from Wang et al. 2019, eq. 4
  proxyanchor      proxy-anchor loss (margin 0.1, alpha 32), Kim et al. 2020
                   eq. 4, plus proxyanchor_proxies_grad.npy
"""
import math
import sys

import numpy as np
import torch


def mean_nonzero_per_group(emb, *groups):
    """Sum over the groups of the mean of their non-zero losses (pml's AvgNonZeroReducer);
    0, still connected to emb's graph, for a group without one."""
    total = emb.sum() * 0
    for losses in groups:
        nonzero = [x for x in losses if x.item() > 0]
        if nonzero:
            total = total + sum(nonzero) / len(nonzero)
    return total

def save(path, tensor):
    array = tensor.detach().to(torch.float32).numpy()
    if array.ndim == 0:
        array = array.reshape(1, 1)
    np.save(path, np.ascontiguousarray(array))


def main(directory):
    torch.set_num_threads(1)
    emb0 = torch.from_numpy(np.load(f"{directory}/embeddings.npy"))
    labels = torch.from_numpy(np.load(f"{directory}/labels.npy")).reshape(-1).long().tolist()
    triplets = torch.from_numpy(np.load(f"{directory}/triplets.npy")).long()
    proxies0 = torch.from_numpy(np.load(f"{directory}/proxies.npy"))
    n = emb0.shape[0]

    def run(name, fn):
        emb = emb0.clone().requires_grad_(True)
        value = fn(emb)
        value.backward()
        save(f"{directory}/{name}_value.npy", value)
        save(f"{directory}/{name}_grad.npy", emb.grad)

    # torch's own TripletMarginLoss (pairwise_distance with eps = 1e-6).
    def triplet(emb):
        a, p, ng = triplets[:, 0], triplets[:, 1], triplets[:, 2]
        return torch.nn.TripletMarginLoss(margin=0.2, p=2)(emb[a], emb[p], emb[ng])

    def contrastive(emb):
        pos, neg = [], []
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                d = torch.sqrt(torch.clamp(((emb[i] - emb[j]) ** 2).sum(), min=1e-12))
                if labels[i] == labels[j]:
                    pos.append(torch.relu(d - 0.25))
                else:
                    neg.append(torch.relu(1.0 - d))
        return mean_nonzero_per_group(emb, pos, neg)

    def quadruplet(emb):
        def dist(i, j):
            return torch.sqrt(torch.clamp(((emb[i] - emb[j]) ** 2).sum(), min=1e-12))

        first, second = [], []
        for a, p, ng in triplets.tolist():
            first.append(torch.relu(dist(a, p) - dist(a, ng) + 0.3))
            for k in range(n):
                if labels[k] != labels[a] and labels[k] != labels[ng]:
                    second.append(torch.relu(dist(a, p) - dist(ng, k) + 0.2))
        return mean_nonzero_per_group(emb, first, second)

    def multisim(emb):
        alpha, beta, base = 2.0, 50.0, 0.5
        x = emb / emb.norm(dim=1, keepdim=True)
        s = x @ x.t()
        total = emb.sum() * 0
        for i in range(n):
            pos = [s[i, k] for k in range(n) if k != i and labels[k] == labels[i]]
            neg = [s[i, k] for k in range(n) if labels[k] != labels[i]]
            term = 0
            if pos:
                term = term + torch.log(1 + sum(torch.exp(-alpha * (v - base)) for v in pos)) / alpha
            if neg:
                term = term + torch.log(1 + sum(torch.exp(beta * (v - base)) for v in neg)) / beta
            total = total + term
        return total / n

    proxies = proxies0.clone().requires_grad_(True)

    def proxyanchor(emb):
        margin, alpha = 0.1, 32.0
        num_classes = proxies.shape[0]
        s = (emb / emb.norm(dim=1, keepdim=True)) @ (proxies / proxies.norm(dim=1, keepdim=True)).t()
        present = sorted(set(labels))
        pos_total = 0
        for c in present:
            pos_total = pos_total + torch.log(
                1 + sum(torch.exp(-alpha * (s[i, c] - margin)) for i in range(n) if labels[i] == c))
        neg_total = 0
        for c in range(num_classes):
            negs = [torch.exp(alpha * (s[i, c] + margin)) for i in range(n) if labels[i] != c]
            if negs:
                neg_total = neg_total + torch.log(1 + sum(negs))
        return pos_total / len(present) + neg_total / num_classes

    run("triplet", triplet)
    run("contrastive", contrastive)
    run("quadruplet", quadruplet)
    run("multisim", multisim)
    run("proxyanchor", proxyanchor)
    save(f"{directory}/proxyanchor_proxies_grad.npy", proxies.grad)
    assert math.isfinite(float(proxies.grad.abs().sum()))


if __name__ == "__main__":
    main(sys.argv[1])
