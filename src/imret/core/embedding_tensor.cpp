#include "imret/core/embedding_tensor.hpp"

#include <torch/torch.h>

namespace imret {

at::Tensor embeddings_tensor(const EmbeddingSet& set) {
  return torch::from_blob(const_cast<float*>(set.embeddings.values.data()), {set.embeddings.rows, set.embeddings.cols},
                          torch::kFloat)
      .clone();
}

}  // namespace imret
