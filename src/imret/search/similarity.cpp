#include "imret/search/similarity.hpp"

#include <torch/torch.h>

#include <algorithm>

#include <string>

#include "imret/core/error.hpp"

namespace imret::search {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s;
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? " x " : "") + std::to_string(t.size(d));
  return s.empty() ? "scalar" : s;
}

// The queries as float32 on the database's device, after checking their shape.
at::Tensor queries_for(const at::Tensor& queries, const PreparedDatabase& database) {
  check_embeddings(queries, "queries");
  const int64_t dim = database.vectors.size(1);
  if (queries.size(1) != dim)
    throw Error("dimension mismatch: queries have " + std::to_string(queries.size(1)) + " dimensions, the database " +
                std::to_string(dim));
  return queries.to(database.vectors.device(), torch::kFloat32);
}

}  // namespace

at::Tensor unit_rows(const at::Tensor& x) { return x / x.norm(2, {1}, true).clamp_min(1e-12); }

void check_embeddings(const at::Tensor& t, const char* what) {
  if (!t.defined()) throw Error(std::string(what) + ": undefined tensor");
  if (t.dim() != 2) throw Error(std::string(what) + ": expected an N x D matrix, got " + shape_of(t));
  if (!at::isFloatingType(t.scalar_type()))
    throw Error(std::string(what) + ": expected floating-point values, got " + std::string(c10::toString(t.scalar_type())));
}

PreparedDatabase PreparedDatabase::slice(int64_t start, int64_t length) const {
  PreparedDatabase part;
  part.metric = metric;
  part.vectors = vectors.narrow(0, start, length);
  if (squared_norms.defined()) part.squared_norms = squared_norms.narrow(0, start, length);
  return part;
}

PreparedDatabase prepare_database(const at::Tensor& database, Metric metric, c10::Device device) {
  check_embeddings(database, "database");
  PreparedDatabase prepared;
  prepared.metric = metric;
  at::Tensor x = database.to(device, torch::kFloat32).contiguous();
  if (metric == Metric::Cosine) {
    prepared.vectors = unit_rows(x).contiguous();
  } else {
    prepared.vectors = x;
    // By blocks of rows: x.pow(2) of the whole database would be a second
    // copy of it (the caller's array, viewed without a copy, can be large).
    prepared.squared_norms = torch::empty({x.size(0)}, x.options());
    for (int64_t start = 0; start < x.size(0); start += 65536) {
      const int64_t rows = std::min<int64_t>(65536, x.size(0) - start);
      prepared.squared_norms.narrow(0, start, rows).copy_(x.narrow(0, start, rows).pow(2).sum(1));
    }
  }
  return prepared;
}

at::Tensor similarity_block(const at::Tensor& queries, const PreparedDatabase& database) {
  const at::Tensor q = queries_for(queries, database);
  if (database.metric == Metric::Cosine) return torch::mm(unit_rows(q), database.vectors.t());
  // -2 q.d + |d|^2, then + |q|^2, clamped (rounding can make it negative), sqrt, negated.
  at::Tensor d2 = torch::addmm(database.squared_norms.unsqueeze(0), q, database.vectors.t(), 1, -2);
  d2.add_(q.pow(2).sum(1, true));
  return d2.clamp_min_(0).sqrt_().neg_();
}

at::Tensor ranking_block(const at::Tensor& queries, const PreparedDatabase& database) {
  const at::Tensor q = queries_for(queries, database);
  if (database.metric == Metric::Cosine) return torch::mm(unit_rows(q), database.vectors.t());
  return torch::addmm(database.squared_norms.unsqueeze(0), q, database.vectors.t(), /*beta=*/-0.5, /*alpha=*/1);
}

}  // namespace imret::search
