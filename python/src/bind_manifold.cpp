// imret.manifold's engines: t-SNE, UMAP, PCA and trustworthiness in C++
// (viz/). The estimators with scikit-learn's conventions are Python classes
// (imret/manifold.py) over these functions.
#include <pybind11/stl.h>
#include <torch/torch.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/feedback.hpp"
#include "imret/viz/pca.hpp"
#include "imret/viz/trustworthiness.hpp"
#include "imret/viz/tsne.hpp"
#include "imret/viz/umap.hpp"

namespace imret::python {

void bind_manifold(py::module_& m) {
  m.doc() = "t-SNE, UMAP and PCA engines (use imret.manifold's estimators).";
  m.def(
      "tsne",
      [](const py::object& x, int64_t n_components, double perplexity, double early_exaggeration,
         double learning_rate, int64_t n_iter, int64_t n_iter_without_progress, double min_grad_norm,
         const std::string& method, double angle, const std::string& init, uint64_t seed, bool verbose) {
        py::object keep;
        const at::Tensor data = matrix(x, "X", keep);
        viz::TsneOptions o;
        o.dimensions = n_components;
        o.perplexity = perplexity;
        o.early_exaggeration = early_exaggeration;
        o.learning_rate = learning_rate;
        o.iterations = n_iter;
        o.iterations_without_progress = n_iter_without_progress;
        o.min_grad_norm = min_grad_norm;
        o.method = method;
        o.angle = angle;
        o.init = init;
        o.seed = seed;
        o.progress = verbose;
        viz::check_tsne_options(o, data.size(0), data.size(1));
        viz::TsneResult r;
        {
          py::gil_scoped_release release;
          FeedbackScope quiet(verbose ? current_feedback() : silent_feedback());
          r = viz::tsne(data, o);
        }
        return py::make_tuple(array_of(r.embedding), r.kl_divergence, r.iterations);
      },
      py::arg("X"), py::arg("n_components"), py::arg("perplexity"), py::arg("early_exaggeration"),
      py::arg("learning_rate"), py::arg("n_iter"), py::arg("n_iter_without_progress"), py::arg("min_grad_norm"),
      py::arg("method"), py::arg("angle"), py::arg("init"), py::arg("seed"), py::arg("verbose"),
      "t-SNE of X: (embedding, KL divergence, iterations run).");
  m.def(
      "umap",
      [](const py::object& x, int64_t n_neighbors, int64_t n_components, const std::string& metric, int64_t n_epochs,
         double learning_rate, const std::string& init, double min_dist, double spread, double set_op_mix_ratio,
         double local_connectivity, double repulsion_strength, int64_t negative_sample_rate, uint64_t seed,
         bool verbose) {
        py::object keep;
        const at::Tensor data = matrix(x, "X", keep);
        viz::UmapOptions o;
        o.n_neighbors = n_neighbors;
        o.n_components = n_components;
        o.metric = metric;
        o.n_epochs = n_epochs;
        o.learning_rate = learning_rate;
        o.init = init;
        o.min_dist = min_dist;
        o.spread = spread;
        o.set_op_mix_ratio = set_op_mix_ratio;
        o.local_connectivity = local_connectivity;
        o.repulsion_strength = repulsion_strength;
        o.negative_sample_rate = negative_sample_rate;
        o.seed = seed;
        o.progress = verbose;
        viz::check_umap_options(o, data.size(0));
        viz::UmapResult r;
        {
          py::gil_scoped_release release;
          FeedbackScope quiet(verbose ? current_feedback() : silent_feedback());
          r = viz::umap(data, o);
        }
        return py::make_tuple(array_of(r.embedding), r.a, r.b, r.epochs);
      },
      py::arg("X"), py::arg("n_neighbors"), py::arg("n_components"), py::arg("metric"), py::arg("n_epochs"),
      py::arg("learning_rate"), py::arg("init"), py::arg("min_dist"), py::arg("spread"), py::arg("set_op_mix_ratio"),
      py::arg("local_connectivity"), py::arg("repulsion_strength"), py::arg("negative_sample_rate"), py::arg("seed"),
      py::arg("verbose"), "UMAP of X: (embedding, a, b, epochs).");
  m.def(
      "pca",
      [](const py::object& x, int64_t n_components) {
        py::object keep;
        const at::Tensor data = matrix(x, "X", keep);
        viz::PcaResult r;
        {
          py::gil_scoped_release release;
          r = viz::pca(data, n_components);
        }
        return py::make_tuple(array_of(r.projected), array_of(r.components), array_of(r.mean),
                              py::array(py::cast(r.explained_variance)), py::array(py::cast(r.explained_variance_ratio)));
      },
      py::arg("X"), py::arg("n_components"),
      "PCA of X as sklearn's: (projected, components, mean, explained_variance, explained_variance_ratio).");
  m.def(
      "trustworthiness",
      [](const py::object& x, const py::object& embedded, int64_t n_neighbors) {
        py::object keep_x, keep_e;
        const at::Tensor input = matrix(x, "X", keep_x);
        const at::Tensor embedding = matrix(embedded, "X_embedded", keep_e);
        if (input.size(0) != embedding.size(0))
          throw py::value_error("X and X_embedded: " + std::to_string(input.size(0)) + " and " +
                                std::to_string(embedding.size(0)) + " rows");
        py::gil_scoped_release release;
        return viz::trustworthiness(input, embedding, n_neighbors);
      },
      py::arg("X"), py::arg("X_embedded"), py::arg("n_neighbors") = 5,
      R"(sklearn.manifold.trustworthiness(X, X_embedded, n_neighbors=5) with the Euclidean metric:
how well the embedding keeps each point's nearest neighbours (1 = all kept).)");
}

}  // namespace imret::python
