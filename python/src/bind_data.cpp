// imret.data: an embedding folder (imret embed) as arrays and records.
#include <pybind11/stl.h>
#include <torch/torch.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/embedding_tensor.hpp"

namespace imret::python {

void bind_data(py::module_& m) {
  m.doc() = "imret's folders as arrays.";
  m.def(
      "load_embeddings",
      [](const std::string& folder) {
        require_path(folder, "embedding folder");
        EmbeddingSet set = read_file([&] { return load_embedding_set(folder); });
        const at::Tensor vectors = embeddings_tensor(set).clone();
        const std::vector<int64_t> labels = set.labels();
        py::list items;
        for (const EmbeddedItem& item : set.items) {
          py::dict d;
          d["index"] = item.index;
          d["source"] = item.source;
          d["label"] = item.label;
          d["class"] = item.class_name;
          items.append(d);
        }
        return py::make_tuple(array_of(vectors), py::array(py::cast(labels)), items, json_to_python(set.meta));
      },
      py::arg("folder"),
      R"(Reads an embedding folder: (embeddings N x D float32, labels N int64, items, meta), where
items are the records of items.jsonl (index, source, label, class) and meta is meta.json.)");
}

}  // namespace imret::python
