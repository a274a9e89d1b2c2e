#pragma once
// An embedding set's vectors as a tensor, for searching and evaluating them.
#include <ATen/core/Tensor.h>

#include "imret/core/embedding_set.hpp"

namespace imret {

// The N x D float32 embeddings of `set` on the CPU (a copy: the set may go away).
at::Tensor embeddings_tensor(const EmbeddingSet& set);

}  // namespace imret
