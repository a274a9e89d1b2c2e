// FAISS failures as one imret line naming the index: the frequent ones in a
// user's terms, the others in FAISS's words without its "Error in <function>
// at <file>:<line>" prefix; sizes of 0 that would crash FAISS are refused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/search/faiss_index.hpp"
#include "imret/search/index.hpp"
#include "support/errors.hpp"

using imret::search::FaissIndex;
using imret::search::Metric;
using imret::testing::error_of;

namespace {

// The message of building `factory` on n random 16-d vectors (train + add + search).
std::string build_error(const std::string& factory, int64_t n) {
  torch::manual_seed(3);
  const at::Tensor vectors = torch::randn({n, 16});
  return error_of([&] {
    FaissIndex index(factory, Metric::Euclidean);
    if (index.needs_training()) index.train(vectors);
    index.add(vectors);
    index.search(vectors.narrow(0, 0, 2), 5);
  });
}

// No FAISS source location, function signature or assertion text.
void expect_no_faiss_internals(const std::string& message) {
  for (const char* internal : {"Error in", ".cpp", "faiss::", "' failed", "\n"})
    EXPECT_EQ(message.find(internal), std::string::npos) << internal << " in: " << message;
}

}  // namespace

TEST(FaissErrors, TooFewTrainingVectorsForTheCentroids) {
  // imret's own check (IVF lists) and FAISS's (the PQ codebooks of an HNSW's storage).
  for (const std::string& factory : {"IVF256,Flat", "HNSW8_PQ4"}) {
    const std::string message = build_error(factory, 100);
    EXPECT_EQ(message.rfind("faiss:" + factory + ": 100 training vectors are too few to train its 256 k-means centroids", 0),
              0u)
        << message;
    expect_no_faiss_internals(message);
  }
}

TEST(FaissErrors, AFactoryStringFaissCannotParse) {
  for (const std::string& factory : {"Bogus", "IVFxx,Flat", "IVF4,Flat,Junk"}) {
    const std::string message = build_error(factory, 100);
    EXPECT_EQ(message, "faiss:" + factory +
                           ": not a valid FAISS index_factory string for 16-d vectors: FAISS cannot parse it "
                           "(examples: Flat, IVF256,Flat, IVF256,PQ16, HNSW32)");
    EXPECT_THROW(FaissIndex(factory, Metric::Euclidean).add(torch::randn({4, 16})), imret::UsageError);
  }
}

TEST(FaissErrors, APqThatCannotSplitTheDimension) {
  EXPECT_EQ(build_error("IVF4,PQ5", 100),
            "faiss:IVF4,PQ5: product quantization cannot split 16-d vectors into PQ5's sub-vectors; M must divide "
            "the dimension");
}

TEST(FaissErrors, SizesOfZeroAreRefusedBeforeFaissSeesThem) {
  // PQ0 divides by zero, IVF0 fails an assertion: either would end the process.
  for (const std::string& factory : {"PQ0", "IVF0,Flat", "HNSW0", "PQ4x0", "IVF4,PQ00"}) {
    EXPECT_THROW(FaissIndex(factory, Metric::Euclidean), imret::UsageError) << factory;
    EXPECT_NE(build_error(factory, 100).find("a size of 0"), std::string::npos) << factory;
  }
  EXPECT_NO_THROW(FaissIndex("IVF10,Flat", Metric::Euclidean));
  EXPECT_NO_THROW(FaissIndex("IVF100,PQ8", Metric::Euclidean));
}

TEST(FaissErrors, OtherFailuresKeepFaissWordsOnly) {
  const std::string pca = build_error("PCA32,Flat", 100);
  EXPECT_EQ(pca, "faiss:PCA32,Flat: training on 100 vectors failed: PCA matrix cannot output 32 dimensions from 16");
  expect_no_faiss_internals(pca);

  FaissIndex hnsw("HNSW8", Metric::Euclidean);
  hnsw.add(torch::randn({20, 16}));
  const std::string range = error_of([&] { hnsw.range_search(torch::randn({1, 16}), 1.0); });
  EXPECT_EQ(range, "faiss:HNSW8: no range search (range search not implemented)");
}
