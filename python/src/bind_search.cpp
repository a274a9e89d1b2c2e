// imret.search.Index: exact and FAISS search behind FAISS's Python interface
// (add, search -> (D, I), range_search -> (lims, D, I), remove_ids), saved as
// imret index folders. Euclidean distances come back squared, as FAISS's
// IndexFlatL2 gives them; cosine as similarities (FAISS's inner product on
// normalised vectors).
#include <pybind11/stl.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/index.hpp"
#include "imret/search/index_store.hpp"

namespace imret::python {

namespace {

class PyIndex {
 public:
  PyIndex(const std::string& spec, const std::string& metric)
      : index_(search::make_index(spec, c10::kCPU, parse_metric_name(metric))) {}
  explicit PyIndex(std::unique_ptr<search::Index> index) : index_(std::move(index)) {}

  void train(const py::object& x) {
    py::object keep;
    const at::Tensor t = checked(x, "x", keep);
    ++generation_;
    py::gil_scoped_release release;
    index_->train(t);
  }
  void add(const py::object& x) {
    py::object keep;
    const at::Tensor t = checked(x, "x", keep);
    ++generation_;
    py::gil_scoped_release release;
    index_->add(t);
  }
  py::tuple search(const py::object& x, int64_t k, const py::dict& params, const std::string& rerank,
                   int64_t rerank_depth) {
    py::object keep;
    const at::Tensor t = checked(x, "x", keep);
    if (k < 1) throw py::value_error("k: must be >= 1, got " + std::to_string(k));
    if (index_->size() == 0) throw py::value_error("search: the index is empty; add vectors first");
    const search::SearchParams p = params_of(params);
    search::SearchResult r;
    if (rerank == "none" || rerank.empty()) {
      py::gil_scoped_release release;
      r = index_->search(t, k, p);
    } else {
      const std::shared_ptr<const rerank::Plan> plan = prepared_plan(rerank, rerank_depth);  // held while it runs
      py::gil_scoped_release release;
      r = plan->search(*index_, t, k, p).result;
    }
    return py::make_tuple(array_of(faiss_scores(r.scores)), array_of(r.ids));
  }
  py::tuple range_search(const py::object& x, double radius, const py::dict& params) {
    py::object keep;
    const at::Tensor t = checked(x, "x", keep);
    const bool euclidean = index_->metric() == search::Metric::Euclidean;
    if (euclidean && radius < 0) throw py::value_error("radius: a squared distance, must be >= 0");
    const search::SearchParams p = params_of(params);
    search::RangeResult r;
    {
      py::gil_scoped_release release;
      r = index_->range_search(t, euclidean ? std::sqrt(radius) : radius, p);
    }
    return py::make_tuple(array_of(r.lims), array_of(faiss_scores(r.scores)), array_of(r.ids));
  }
  int64_t remove_ids(const py::object& ids) {
    const std::vector<int64_t> list = int_vector(ids, "ids");
    const int64_t before = index_->size();
    ++generation_;
    index_->remove_ids(list);
    return before - index_->size();
  }
  py::array reconstruct(int64_t id) const { return array_of(index_->vector(id).view({-1})); }
  void save(const std::string& folder) const {
    std::vector<EmbeddedItem> items(static_cast<size_t>(index_->size()));
    for (size_t i = 0; i < items.size(); ++i) items[i].index = static_cast<int64_t>(i);
    search::IndexManifest manifest;
    py::gil_scoped_release release;
    search::save_index_folder(folder, *index_, manifest, items);
  }
  static PyIndex load(const std::string& folder) {
    require_path(folder, "index folder");
    return PyIndex(read_file([&] { return search::load_index_folder(folder).index; }));
  }

  const search::Index& index() const { return *index_; }

 private:
  at::Tensor checked(const py::object& x, const char* name, py::object& keep) const {
    const at::Tensor t = matrix(x, name, keep);
    if (index_->dim() != 0 && t.size(1) != index_->dim())
      throw py::value_error(std::string(name) + ": " + std::to_string(t.size(1)) + " dimensions, the index has " +
                            std::to_string(index_->dim()));
    return t;
  }
  // A re-ranking plan, prepared for the index as it is now (diffusion's
  // graph is made again after the index changes).
  // Called with the GIL held; the graph is made without it.
  std::shared_ptr<const rerank::Plan> prepared_plan(const std::string& spec, int64_t depth) {
    auto plan = std::make_shared<rerank::Plan>(spec, depth);
    if (!plan->database_spec().empty())
      throw UsageError("rerank: " + plan->database_spec() + " acts on the database before it is indexed: add "
                       "imret.search.augment(x, \"" + plan->database_spec() + "\") instead of x, then search with "
                       "the rest of the plan");
    const std::string key = plan->spec() + "@" + std::to_string(depth);
    if (plan_ && plan_key_ == key && plan_generation_ == generation_) return plan_;
    const uint64_t generation = generation_;
    {
      py::gil_scoped_release release;
      plan->prepare(*index_);
    }
    plan_ = plan;
    plan_key_ = key;
    plan_generation_ = generation;
    return plan_;
  }

  static search::SearchParams params_of(const py::dict& params) {
    search::SearchParams p;
    for (const auto& [name, value] : params) p.set(py::cast<std::string>(name), py::cast<double>(value));
    return p;
  }
  // FAISS's scale: squared L2 distances (+inf padding stays +inf).
  at::Tensor faiss_scores(const at::Tensor& scores) const {
    return index_->metric() == search::Metric::Euclidean ? scores * scores : scores;
  }

  std::unique_ptr<search::Index> index_;
  uint64_t generation_ = 0;                     // bumped by every change of the index
  std::shared_ptr<const rerank::Plan> plan_;  // the last re-ranking searched with, prepared at plan_generation_
  std::string plan_key_;
  uint64_t plan_generation_ = 0;
};

}  // namespace

void bind_search(py::module_& m) {
  m.doc() = "Nearest-neighbour search: exact (imret's) or FAISS indexes, with FAISS's interface.";
  py::class_<PyIndex>(m, "Index", R"(An index of vectors, searched by Euclidean distance or cosine similarity.

spec: "exact" or "faiss:<index_factory string>" ("faiss:Flat", "faiss:IVF256,Flat",
"faiss:HNSW32", "faiss:IVF1024,PQ16", ...), as `imret index build --index`. metric:
"euclidean" (or "l2") or "cosine" (or "ip": FAISS's inner product on L2-normalised vectors).
Results as FAISS gives them: search -> (D, I) with D the squared L2 distances (ascending) or the
cosine similarities (descending), I the ids (-1 past the index's size).)")
      .def(py::init<const std::string&, const std::string&>(), py::arg("spec") = "exact",
           py::arg("metric") = "euclidean")
      .def("train", &PyIndex::train, py::arg("x"), "Learns an IVF/PQ index's structure from N x d vectors.")
      .def("add", &PyIndex::add, py::arg("x"), "Appends N x d vectors; ids continue from ntotal.")
      .def("search", &PyIndex::search, py::arg("x"), py::arg("k"), py::arg("params") = py::dict(),
           py::arg("rerank") = "none", py::arg("rerank_depth") = 100,
           "The k nearest items of each query: (D, I), Q x k each. params: per-call settings "
           "({\"nprobe\": 16}, {\"efSearch\": 64}). rerank: a re-ranking plan (\"aqe:k=2\", "
           "\"kreciprocal\", \"diffusion\", ...; docs/rerank.md) over the top rerank_depth; D stays each "
           "item's own distance or similarity to the query.")
      .def("range_search", &PyIndex::range_search, py::arg("x"), py::arg("radius"), py::arg("params") = py::dict(),
           "Every item within `radius` (a squared L2 distance, or a cosine similarity to exceed): "
           "(lims, D, I) as FAISS's range_search.")
      .def("remove_ids", &PyIndex::remove_ids, py::arg("ids"),
           "Removes items; later ids move down (as IndexFlat). Returns how many were removed. "
           "ValueError for indexes that cannot (IVF, HNSW).")
      .def("reconstruct", &PyIndex::reconstruct, py::arg("id"), "The stored vector of item `id`.")
      .def("save", &PyIndex::save, py::arg("folder"), "Writes an imret index folder (as imret index build).")
      .def_static("load", &PyIndex::load, py::arg("folder"), "Reads an imret index folder.")
      .def_property_readonly("ntotal", [](const PyIndex& i) { return i.index().size(); })
      .def_property_readonly("d", [](const PyIndex& i) { return i.index().dim(); })
      .def_property_readonly("metric", [](const PyIndex& i) { return search::to_string(i.index().metric()); })
      .def_property_readonly("spec", [](const PyIndex& i) { return i.index().spec(); })
      .def("__len__", [](const PyIndex& i) { return i.index().size(); })
      .def("__repr__", [](const PyIndex& i) { return "imret.search.Index(" + i.index().describe() + ")"; });
  m.def(
      "augment",
      [](const py::object& x, const std::string& spec, const std::string& metric) {
        py::object keep;
        const at::Tensor t = matrix(x, "x", keep);
        const rerank::Plan plan(spec);
        for (const auto& method : plan.methods())
          if (!method->augments_database())
            throw py::value_error("augment: " + method->spec() + " acts at search time (Index.search(..., rerank=))");
        at::Tensor out;
        {
          py::gil_scoped_release release;
          out = plan.augment_database(t, parse_metric_name(metric)).contiguous();
        }
        return array_of(out);
      },
      py::arg("x"), py::arg("spec"), py::arg("metric") = "euclidean",
      "Database-side re-ranking (\"dba:k=5,alpha=3\"): N x d vectors, each replaced by the weighted mean of "
      "itself and its k nearest others; add these to an Index instead of x.");
}

}  // namespace imret::python
