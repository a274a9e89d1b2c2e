#pragma once
// The parts of the extension module `imret._imret`, one function per
// submodule, and what they share: metric names, JSON to Python, errors.
#include <pybind11/pybind11.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "imret/core/error.hpp"
#include "imret/search/index.hpp"

namespace imret::python {

namespace py = pybind11;

void bind_metrics(py::module_& m);
void bind_search(py::module_& m);
void bind_weights(py::module_& m);
void bind_data(py::module_& m);
void bind_manifold(py::module_& m);
void bind_embedder(py::module_& m);  // into the top module

// "euclidean" | "l2" | "cosine" | "ip" (FAISS's inner product, on L2-normalised
// vectors: cosine); ValueError naming `metric` otherwise.
search::Metric parse_metric_name(const std::string& metric);

py::object json_to_python(const nlohmann::json& json);

// FileNotFoundError naming `path` when it does not exist.
void require_path(const std::filesystem::path& path, const char* what);

// imret.FormatError, made by the module.
py::object format_error();

// Runs `read` (which reads a file) with the GIL released, turning imret's
// errors into imret.FormatError (what the file holds is wrong) and setting
// errors into ValueError.
template <class Read>
auto read_file(Read&& read) -> decltype(read()) {
  try {
    py::gil_scoped_release release;
    return read();
  } catch (const UsageError&) {
    throw;
  } catch (const Error& e) {
    PyErr_SetString(format_error().ptr(), e.what());
    throw py::error_already_set();
  }
}

}  // namespace imret::python
