// Removing items from FAISS indexes: Flat (and the other flat-code indexes)
// removes as imret's exact index does, keeping ids dense; IVF and HNSW
// refuse with a UsageError that names the indexes that can, unchanged.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/search/index.hpp"

using imret::search::Metric;

namespace {

std::unique_ptr<imret::search::Index> built(const std::string& spec, const at::Tensor& database, Metric metric) {
  auto index = imret::search::make_index(spec, torch::kCPU, metric);
  if (index->needs_training()) index->train(database);
  index->add(database);
  return index;
}

}  // namespace

TEST(FaissRemove, FlatRemovesAsTheExactIndex) {
  torch::manual_seed(8);
  const at::Tensor database = torch::randn({300, 16});
  const at::Tensor queries = torch::randn({25, 16});
  const std::vector<int64_t> removed = {5, 299, 0, 150, 151};
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    auto flat = built("faiss:Flat", database, metric);
    auto exact = built("exact", database, metric);
    ASSERT_TRUE(flat->can_remove());
    flat->remove_ids(removed);
    exact->remove_ids(removed);
    ASSERT_EQ(flat->size(), 295);
    const auto a = flat->search(queries, 10), b = exact->search(queries, 10);
    EXPECT_TRUE(torch::equal(a.ids, b.ids));
    EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(flat->vector(4), exact->vector(4), 1e-5, 1e-5));
  }
}

TEST(FaissRemove, PqKeepsTheOtherCodes) {
  torch::manual_seed(9);
  const at::Tensor database = torch::randn({2000, 16});
  auto pq = built("faiss:PQ4", database, Metric::Euclidean);
  ASSERT_TRUE(pq->can_remove());
  const at::Tensor fifth = pq->vector(5);
  pq->remove_ids({2, 3});
  EXPECT_EQ(pq->size(), 1998);
  EXPECT_TRUE(torch::equal(pq->vector(3), fifth));  // item 5 is item 3 now, its code unchanged
}

TEST(FaissRemove, IvfAndHnswRefuseAndStayWhole) {
  torch::manual_seed(10);
  const at::Tensor database = torch::randn({1000, 16});
  for (const char* spec : {"faiss:IVF8,Flat", "faiss:HNSW16"}) {
    auto index = built(spec, database, Metric::Euclidean);
    EXPECT_FALSE(index->can_remove()) << spec;
    try {
      index->remove_ids({1});
      ADD_FAILURE() << spec << " removed an item";
    } catch (const imret::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("Flat"), std::string::npos) << e.what();
    }
    EXPECT_EQ(index->size(), 1000) << spec;
  }
}
