// Re-ranking: specs, hand-computed small cases (αQE, DBA, diffusion's
// linear solve), the properties the methods' definitions give (αQE with
// k = 0 and k-reciprocal with lambda = 1 keep the ranking, diffusion with
// alpha = 0 ranks by the query's own weights), and the full ranking of an
// evaluation agreeing with the top-k search. The authors' definitions of
// k-reciprocal and diffusion are checked against NumPy/SciPy references in
// tests/parity/test_rerank.py.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"
#include "imret/rerank/methods.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/exact_index.hpp"

namespace imret::rerank {
namespace {

std::unique_ptr<search::Index> exact_over(const at::Tensor& database, search::Metric metric) {
  auto index = std::make_unique<search::ExactIndex>(metric);
  index->add(database);
  return index;
}

TEST(RerankSpec, CanonicalSpecsAndDefaults) {
  EXPECT_EQ(Plan("none").spec(), "none");
  EXPECT_TRUE(Plan("").empty());
  EXPECT_EQ(Plan("aqe").spec(), "aqe:k=2,alpha=3");
  EXPECT_EQ(Plan("kreciprocal:k2=1").spec(), "kreciprocal:k1=20,k2=1,lambda=0.3");
  EXPECT_EQ(Plan("dba:k=3 + aqe:alpha=1").spec(), "dba:k=3,alpha=3+aqe:k=2,alpha=1");
  EXPECT_EQ(Plan("dba:k=3+aqe+diffusion").database_spec(), "dba:k=3,alpha=3");
  EXPECT_EQ(make_reranker("diffusion:k=7,iterations=5")->spec(), "diffusion:k=7,kq=10,alpha=0.99,gamma=3,iterations=5");
  // Values read back as themselves: a spec is a key (manifests, a service's plan).
  EXPECT_EQ(Plan("diffusion:alpha=0.9999999").spec(), "diffusion:k=50,kq=10,alpha=0.9999999,gamma=3,iterations=20");
  EXPECT_EQ(Plan("dba:alpha=3.0000001").spec(), "dba:k=5,alpha=3.0000001");
  EXPECT_EQ(Plan("kreciprocal:k1=3,k2=40+aqe:k=7").largest_count(), 40);
  EXPECT_EQ(Plan("kreciprocal:k1=3,k2=40+aqe:k=7").size(), 2u);
}

TEST(RerankSpec, BadSpecsNameTheProblem) {
  const auto message = [](const std::string& spec) {
    try {
      Plan plan(spec);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message("qe").find("unknown re-ranking 'qe' (methods: aqe, dba, kreciprocal, diffusion"), std::string::npos);
  EXPECT_NE(message("aqe:kk=2").find("unknown parameter 'kk' (valid: alpha, k)"), std::string::npos);
  EXPECT_NE(message("aqe:k=1.5").find("k must be a whole number"), std::string::npos);
  EXPECT_NE(message("kreciprocal:lambda=2").find("lambda must be in [0, 1]"), std::string::npos);
  EXPECT_NE(message("diffusion:alpha=1").find("alpha must be in [0, 1)"), std::string::npos);
  EXPECT_NE(message("aqe+").find("empty method"), std::string::npos);
  EXPECT_NE(message("aqe:k").find("re-ranking 'aqe:k': parameters are name=number"), std::string::npos);
  EXPECT_NE(message("aqe:k=2,,alpha=1").find("joined by ','"), std::string::npos);
  EXPECT_THROW(Plan("aqe", 0), UsageError);
}

// q = (1, 0); database a = (1, 0), b = (0.6, 0.8), c = (0, 1).
at::Tensor three_items() { return torch::tensor({1.0f, 0.0f, 0.6f, 0.8f, 0.0f, 1.0f}).reshape({3, 2}); }

TEST(QueryExpansion, HandComputedWeightedMean) {
  const auto index = exact_over(three_items(), search::Metric::Cosine);
  const at::Tensor q = torch::tensor({2.0f, 0.0f}).reshape({1, 2});  // not unit: the cosine index compares unit rows
  const search::SearchResult first = index->search(q, 3);
  const at::Tensor expanded = QueryExpansion(2, 1).expand_queries(q, first, *index);
  // (q + 1 * a + 0.6 * b) / (1 + 1 + 0.6), with q as the index sees it (unit).
  const at::Tensor expected = torch::tensor({(1 + 1 + 0.6f * 0.6f) / 2.6f, (0.6f * 0.8f) / 2.6f}).reshape({1, 2});
  EXPECT_TRUE(torch::allclose(expanded, expected, 1e-6, 1e-6)) << expanded;
  // alpha = 3: the weights are cosines cubed.
  const at::Tensor cubed = QueryExpansion(2, 3).expand_queries(q, first, *index);
  const float w = 0.6f * 0.6f * 0.6f;
  EXPECT_TRUE(torch::allclose(cubed, torch::tensor({(2 + w * 0.6f) / (2 + w), (w * 0.8f) / (2 + w)}).reshape({1, 2}),
                              1e-6, 1e-6));
}

TEST(QueryExpansion, ZeroNeighboursChangesNothing) {
  torch::manual_seed(1);
  const at::Tensor database = torch::randn({300, 8}), queries = torch::randn({20, 8});
  for (auto metric : {search::Metric::Euclidean, search::Metric::Cosine}) {
    const auto index = exact_over(database, metric);
    const RerankedResult plain = Plan("none").search(*index, queries, 10);
    const RerankedResult expanded = Plan("aqe:k=0").search(*index, queries, 10);
    EXPECT_TRUE(torch::equal(plain.result.ids, expanded.result.ids));
    EXPECT_TRUE(torch::allclose(plain.result.scores, expanded.result.scores));
  }
}

TEST(QueryExpansion, ScoresStayThoseOfTheGivenQuery) {
  torch::manual_seed(2);
  const at::Tensor database = torch::randn({200, 6}), queries = torch::randn({5, 6});
  const auto index = exact_over(database, search::Metric::Euclidean);
  const RerankedResult found = Plan("aqe:k=3,alpha=0").search(*index, queries, 7);
  const at::Tensor chosen = database.index_select(0, found.result.ids.reshape({-1})).reshape({5, 7, 6});
  const at::Tensor distances = (chosen - queries.unsqueeze(1)).norm(2, 2);
  EXPECT_TRUE(torch::allclose(found.result.scores, distances, 1e-5, 1e-5));
}

TEST(DatabaseAugmentation, HandComputedNeighbourMean) {
  const at::Tensor x = three_items();
  const at::Tensor augmented = DatabaseAugmentation(1, 1).augment_database(x, search::Metric::Cosine);
  // a's nearest other is b (cos 0.6); b's is a or c (0.6 / 0.8: c); c's is b (0.8).
  const at::Tensor expected = torch::stack({(x[0] + 0.6f * x[1]) / 1.6f, (x[1] + 0.8f * x[2]) / 1.8f,
                                            (x[2] + 0.8f * x[1]) / 1.8f});
  EXPECT_TRUE(torch::allclose(augmented, expected, 1e-6, 1e-6)) << augmented;
  EXPECT_TRUE(torch::equal(DatabaseAugmentation(0, 3).augment_database(x, search::Metric::Cosine), x));
}

TEST(KReciprocal, LambdaOneKeepsTheRanking) {
  torch::manual_seed(4);
  const at::Tensor database = torch::randn({400, 12}), queries = torch::randn({30, 12});
  for (auto metric : {search::Metric::Euclidean, search::Metric::Cosine}) {
    const auto index = exact_over(database, metric);
    const RerankedResult plain = Plan("none").search(*index, queries, 50);
    const RerankedResult same = Plan("kreciprocal:k1=10,k2=4,lambda=1", 50).search(*index, queries, 50);
    EXPECT_TRUE(torch::equal(plain.result.ids, same.result.ids));
    const RerankedResult changed = Plan("kreciprocal:k1=10,k2=4,lambda=0.3", 50).search(*index, queries, 50);
    EXPECT_FALSE(torch::equal(plain.result.ids, changed.result.ids));
    // A reordering of the same shortlist: the same items, their own scores.
    EXPECT_TRUE(torch::equal(std::get<0>(plain.result.ids.sort(1)), std::get<0>(changed.result.ids.sort(1))));
    EXPECT_TRUE(torch::equal(std::get<0>(plain.result.scores.sort(1)), std::get<0>(changed.result.scores.sort(1))));
    // rerank scores: higher = better, in order.
    const at::Tensor r = changed.rerank_scores;
    EXPECT_TRUE(torch::all(r.narrow(1, 0, 49) >= r.narrow(1, 1, 49)).item<bool>());
  }
}

TEST(KReciprocal, HandComputedThreeItems) {
  // Squared distances d01 = 1, d02 = 4, d12 = 9; item 0 is the query.
  // Rows divided by their largest: [0, 1/4, 1], [1/9, 0, 1], [4/9, 1, 0].
  // k1 = 1: R(0) = {0, 1}, R(1) = {0, 1}, R(2) = {2} (0's top 2 is 0, 1);
  // the expansions (sets of round(1/2) = 0) add nothing. Gaussian weights:
  const std::vector<double> dist = {0, 1, 4, 1, 0, 9, 4, 9, 0};
  const double w = std::exp(-0.25), u = std::exp(-1.0 / 9.0);
  const double v0[2] = {1 / (1 + w), w / (1 + w)}, v1[2] = {u / (1 + u), 1 / (1 + u)};
  const double shared = std::min(v0[0], v1[0]) + std::min(v0[1], v1[1]);  // V2 = [0, 0, 1] shares nothing
  const double jaccard = 1 - shared / (2 - shared);
  const std::vector<double> got = k_reciprocal_distances(dist, 3, 1, 1, 0.5);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NEAR(got[0], 0.5 * jaccard + 0.5 * 0.25, 1e-12);
  EXPECT_NEAR(got[1], 0.5 * 1 + 0.5 * 1, 1e-12);
  // k2 = 2: items 0 and 1 both average V0 and V1, so their Jaccard distance is 0.
  EXPECT_NEAR(k_reciprocal_distances(dist, 3, 1, 2, 0.5)[0], 0.5 * 0.25, 1e-12);
  // lambda = 1: the normalised original distances.
  const std::vector<double> original = k_reciprocal_distances(dist, 3, 1, 2, 1.0);
  EXPECT_NEAR(original[0], 0.25, 1e-12);
  EXPECT_NEAR(original[1], 1.0, 1e-12);
}

TEST(Diffusion, ConjugateGradientSolvesTheSystem) {
  torch::manual_seed(5);
  const at::Tensor m = torch::randn({30, 30}, torch::kFloat64);
  const at::Tensor a = m.mm(m.t()) + 30 * torch::eye(30, torch::kFloat64);
  const at::Tensor b = torch::randn({30}, torch::kFloat64);
  const std::vector<double> bv(b.data_ptr<double>(), b.data_ptr<double>() + 30);
  const auto apply = [&](const std::vector<double>& x, std::vector<double>& out) {
    const at::Tensor y = a.mv(torch::tensor(x, torch::kFloat64));
    std::copy(y.data_ptr<double>(), y.data_ptr<double>() + 30, out.begin());
  };
  const std::vector<double> x = conjugate_gradient(apply, bv, 100, 1e-12);
  const at::Tensor expected = at::linalg_solve(a, b.unsqueeze(1)).squeeze(1);
  EXPECT_TRUE(torch::allclose(torch::tensor(x, torch::kFloat64), expected, 1e-9, 1e-9));
}

TEST(Diffusion, AlphaZeroRanksByTheQueryWeights) {
  torch::manual_seed(6);
  const at::Tensor database = torch::randn({300, 10}), queries = torch::randn({12, 10});
  const auto index = exact_over(database, search::Metric::Cosine);
  Plan plan("diffusion:k=10,kq=40,alpha=0,gamma=3", 40);
  plan.prepare(*index);
  // f = y: the first 40 in cosine order (those with cosine > 0), as searched.
  const RerankedResult plain = Plan("none").search(*index, queries, 40);
  const RerankedResult diffused = plan.search(*index, queries, 40);
  const at::Tensor positive = plain.result.scores > 0;
  EXPECT_TRUE(torch::equal(plain.result.ids.masked_select(positive), diffused.result.ids.masked_select(positive)));
}

TEST(Diffusion, NeedsItsGraph) {
  const auto index = exact_over(torch::randn({50, 4}), search::Metric::Cosine);
  EXPECT_THROW(Plan("diffusion").search(*index, torch::randn({2, 4}), 5), Error);
}

TEST(FullRanking, TopOfTheFullRankingIsTheSearchResult) {
  torch::manual_seed(7);
  const at::Tensor database = torch::randn({500, 16}), queries = torch::randn({25, 16});
  for (const char* spec : {"none", "aqe:k=3", "kreciprocal:k1=8,k2=3", "diffusion:k=8", "dba:k=3+aqe",
                           "dba:k=2+kreciprocal:k1=6"}) {
    for (auto metric : {search::Metric::Euclidean, search::Metric::Cosine}) {
      const FullRanking ranking(Plan(spec, 30), database, metric);
      const at::Tensor scores = ranking.scores(queries);
      ASSERT_EQ(scores.size(1), 500);
      Plan plan(spec, 30);
      plan.prepare(ranking.index());
      const RerankedResult found = plan.search(ranking.index(), queries, 30);
      const at::Tensor top = std::get<1>(scores.topk(30, 1));
      EXPECT_TRUE(torch::equal(top, found.result.ids)) << spec;
    }
  }
}

}  // namespace
}  // namespace imret::rerank
