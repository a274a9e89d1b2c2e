#pragma once
// Tuples mined from a batch: index tensors into the batch (int64, on the
// embeddings' device). Miners produce them; losses consume them.
#include <ATen/core/Tensor.h>

namespace imret::learn {

// Positive pairs (a1[i], p[i]) share a label; negative pairs (a2[j], n[j]) do not.
struct Pairs {
  at::Tensor a1, p, a2, n;
};

// (anchor[i], positive[i], negative[i]): anchor and positive share a label,
// the negative has another.
struct Triplets {
  at::Tensor anchor, positive, negative;
};

}  // namespace imret::learn
