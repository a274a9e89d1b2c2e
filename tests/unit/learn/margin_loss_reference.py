#!/usr/bin/env python3
"""Reference values for tests/unit/learn/margin_loss_test.cpp, in plain PyTorch.

Usage: margin_loss_reference.py DIR. Reads DIR/embeddings.npy (N x D float32),
DIR/labels.npy (N x 1) and DIR/triplets.npy (T x 3); writes
DIR/<case>_value.npy (1 x 1), DIR/<case>_grad.npy (the gradient w.r.t. the
embeddings, N x D) and DIR/<case>_divisor.npy (1 x 1, the non-zero terms) for the margin loss of Wu et al. 2017 ("Sampling Matters
in Deep Embedding Learning", eq. 5) with pytorch-metric-learning's
reduction: the sum of the per-triplet terms
    relu(d(a, p) - beta + margin) + relu(beta - d(a, n) + margin)
divided by the number of non-zero terms (positive and negative counted
apart; 0 when none), written triplet by triplet:
  all        every valid triplet of the labels, Euclidean, margin 0.2, beta 1.2
  given      the given triplets, Euclidean, margin 0.3, beta 0.8
  cosine     every triplet, cosine similarity (the inequalities flip:
             relu(beta - s(a, p) + margin) + relu(s(a, n) - beta + margin)),
             margin 0.1, beta 0.3
  learned    as all, beta learned with nu = 0.05 (plus nu * beta);
             also learned_beta_grad.npy (1 x 1)
"""
import sys

import numpy as np
import torch


def save(path, tensor):
    array = tensor.detach().to(torch.float32).numpy()
    np.save(path, np.ascontiguousarray(array.reshape(1, 1) if array.ndim == 0 else array))


def euclidean(x, y):
    return torch.sqrt(torch.clamp(((x - y) ** 2).sum(), min=1e-12))


def cosine(x, y):
    return (x / x.norm()) @ (y / y.norm())


def margin_loss(emb, triplets, closeness, margin, beta, similarity=False, nu=0.0):
    sign = -1.0 if similarity else 1.0
    terms, nonzero = [], 0
    for a, p, n in triplets:
        pos = torch.relu(sign * (closeness(emb[a], emb[p]) - beta) + margin)
        neg = torch.relu(sign * (beta - closeness(emb[a], emb[n])) + margin)
        nonzero += int(pos.item() > 0) + int(neg.item() > 0)
        terms.append(pos + neg)
    total = sum(terms) / nonzero if nonzero > 0 else emb.sum() * 0
    return (total + nu * beta if nu > 0 else total), nonzero


def main(directory):
    torch.set_num_threads(1)
    emb0 = torch.from_numpy(np.load(f"{directory}/embeddings.npy")).double()
    labels = torch.from_numpy(np.load(f"{directory}/labels.npy")).reshape(-1).long().tolist()
    given = torch.from_numpy(np.load(f"{directory}/triplets.npy")).long().tolist()
    n = len(labels)
    every = [(a, p, q) for a in range(n) for p in range(n) for q in range(n)
             if a != p and labels[a] == labels[p] and labels[q] != labels[a]]

    def run(name, fn):
        emb = emb0.clone().requires_grad_(True)
        value, divisor = fn(emb)
        value.backward()
        save(f"{directory}/{name}_divisor.npy", torch.tensor(float(divisor)))
        save(f"{directory}/{name}_value.npy", value)
        save(f"{directory}/{name}_grad.npy", emb.grad)

    run("all", lambda e: margin_loss(e, every, euclidean, 0.2, 1.2))
    run("given", lambda e: margin_loss(e, given, euclidean, 0.3, 0.8))
    run("cosine", lambda e: margin_loss(e, every, cosine, 0.1, 0.3, similarity=True))
    beta = torch.tensor(1.2, dtype=torch.float64, requires_grad=True)
    run("learned", lambda e: margin_loss(e, every, euclidean, 0.2, beta, nu=0.05))
    save(f"{directory}/learned_beta_grad.npy", beta.grad)


if __name__ == "__main__":
    main(sys.argv[1])
