// The extension module imret._imret: the submodules metrics, search,
// weights, data and manifold (the Python package imret wraps them), and the
// translation of imret's C++ errors into Python exceptions.
#include <ATen/Parallel.h>
#include <pybind11/pybind11.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/error.hpp"
#include "imret/core/internal_error.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/version.hpp"

namespace imret::python {

namespace {

py::object* format_error_type = nullptr;

}  // namespace

py::object format_error() { return *format_error_type; }

search::Metric parse_metric_name(const std::string& metric) {
  if (metric == "ip" || metric == "IP" || metric == "inner_product") return search::Metric::Cosine;
  try {
    return search::parse_metric(metric);
  } catch (const Error&) {
    throw py::value_error("metric " + metric + ": expected \"euclidean\" (or \"l2\") or \"cosine\" (or \"ip\")");
  }
}

py::object json_to_python(const nlohmann::json& json) {
  // Never destroyed: a static py::object would be released after the interpreter is gone.
  static py::object* loads = new py::object(py::module_::import("json").attr("loads"));
  return (*loads)(json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void require_path(const std::filesystem::path& path, const char* what) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    PyErr_SetObject(PyExc_FileNotFoundError,
                    py::str(path.string() + ": no such " + what).ptr());
    throw py::error_already_set();
  }
}

}  // namespace imret::python

PYBIND11_MODULE(_imret, m) {
  namespace py = pybind11;
  using namespace imret::python;
  m.doc() = "imret's C++ core (metrics, search, weights, data, manifold); import imret, not this.";
  m.attr("__version__") = imret::kVersion;
  // Never destroyed, as json_to_python's.
  format_error_type = new py::object(py::reinterpret_steal<py::object>(PyErr_NewExceptionWithDoc(
      "imret.FormatError", "A file imret reads is not what it should be (truncated, foreign, malformed).",
      PyExc_ValueError, nullptr)));
  m.attr("FormatError") = *format_error_type;
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const imret::SettingError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const imret::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const imret::Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
  // All cores, as the command line takes them (LibTorch's own default can be fewer).
  imret::configure_threads(0);
  m.def(
      "set_num_threads", [](int64_t n) { return imret::configure_threads(n); }, py::arg("n"),
      "Threads imret computes with (0: every core, the default). Returns the number set.");
  m.def("get_num_threads", [] { return at::get_num_threads(); }, "Threads imret computes with.");
  // For the tests: the address imret reads an argument's values at (the
  // array's own for a C-contiguous float array: no copy).
  m.def("_viewed_address", [](const py::object& x) {
    py::object keep;
    return reinterpret_cast<uintptr_t>(matrix(x, "x", keep).data_ptr());
  });
  py::module_ metrics = m.def_submodule("metrics");
  bind_metrics(metrics);
  py::module_ search = m.def_submodule("search");
  bind_search(search);
  py::module_ weights = m.def_submodule("weights");
  bind_weights(weights);
  py::module_ data = m.def_submodule("data");
  bind_data(data);
  py::module_ manifold = m.def_submodule("manifold");
  bind_manifold(manifold);
  bind_embedder(m);
}
