// imret.weights: every tensor of a .pth (zip or legacy) or safetensors file
// as NumPy arrays, read by imret's own readers (no torch needed), and
// safetensors written from arrays.
#include <pybind11/stl.h>
#include <torch/torch.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/safetensors.hpp"
#include "imret/core/tensor_file.hpp"

namespace imret::python {

void bind_weights(py::module_& m) {
  m.doc() = "Weight files (.pth, safetensors) as NumPy arrays, without torch.";
  m.def(
      "load",
      [](const std::string& path) {
        require_path(path, "file");
        TensorFile file = read_file([&] { return load_tensor_file(path); });
        py::dict out;
        for (auto& [name, tensor] : file.tensors) out[py::str(name)] = array_of(tensor);
        return out;
      },
      py::arg("path"),
      R"(Every tensor of a PyTorch .pth file (the zip format or the legacy one) or a safetensors file,
by name, in file order: {name: numpy array}, as torch.load(path) gives them (a state dict).
The format is read from the content, not the name. A truncated or foreign file raises
imret.FormatError naming the file; a missing one FileNotFoundError. bfloat16 tensors come back
as float32 (NumPy has no bfloat16).)");
  m.def(
      "save_safetensors",
      [](const std::string& path, const py::dict& tensors, const std::map<std::string, std::string>& metadata) {
        std::vector<std::pair<std::string, at::Tensor>> list;
        std::vector<py::array> keep;
        for (const auto& [key, value] : tensors) {
          const std::string name = py::cast<std::string>(key);
          py::array a = py::array::ensure(value, py::array::c_style);
          if (!a) throw py::value_error(name + ": expected an array");
          at::ScalarType type;
          const py::dtype d = a.dtype();
          if (d.is(py::dtype::of<float>())) type = torch::kFloat32;
          else if (d.is(py::dtype::of<double>())) type = torch::kFloat64;
          else if (d.is(py::dtype::of<int64_t>())) type = torch::kInt64;
          else if (d.is(py::dtype::of<int32_t>())) type = torch::kInt32;
          else if (d.is(py::dtype::of<uint8_t>())) type = torch::kUInt8;
          else if (d.is(py::dtype::of<int8_t>())) type = torch::kInt8;
          else if (d.is(py::dtype::of<bool>())) type = torch::kBool;
          else if (d.is(py::dtype("float16"))) type = torch::kFloat16;
          else throw py::value_error(name + ": dtype " + py::cast<std::string>(py::str(py::object(d))) + " has no safetensors type here");
          std::vector<int64_t> shape(a.shape(), a.shape() + a.ndim());
          list.emplace_back(name, torch::from_blob(const_cast<void*>(a.data()), shape, type));
          keep.push_back(a);
        }
        py::gil_scoped_release release;
        save_safetensors(path, list, metadata);
      },
      py::arg("path"), py::arg("tensors"), py::arg("metadata") = std::map<std::string, std::string>{},
      R"(Writes {name: array} as a safetensors file (atomically: a temporary file, then a rename),
with optional string metadata. safetensors.numpy.load_file and torch read it back.)");
}

}  // namespace imret::python
