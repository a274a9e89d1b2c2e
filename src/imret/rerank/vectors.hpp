#pragma once
// What the methods read of an index: stored vectors for shortlist ids, and
// the query as the index compares it.
#include <ATen/core/Tensor.h>

#include "imret/search/index.hpp"

namespace imret::rerank {

// The stored vectors of `ids` (any shape of int64 ids, -1 = none) as
// ids.sizes() x D float32 on the CPU; rows of zeros for -1.
at::Tensor stored_vectors(const search::Index& index, const at::Tensor& ids);

// Q x D queries as the index compares them with its stored vectors: float32
// CPU, L2-normalised for cosine.
at::Tensor as_indexed(const at::Tensor& queries, search::Metric metric);

}  // namespace imret::rerank
