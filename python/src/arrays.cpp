#include "arrays.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace imret::python {

namespace {

std::string describe(const py::array& a) {
  std::string shape = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) shape += (i ? ", " : "") + std::to_string(a.shape(i));
  if (a.ndim() == 1) shape += ",";
  return shape + ") " + py::cast<std::string>(py::str(py::object(a.dtype())));
}

py::array as_array(const py::handle& value, const char* name) {
  if (value.is_none()) throw py::value_error(std::string(name) + ": expected an array, got None");
  try {
    return py::array::ensure(value);
  } catch (const py::error_already_set&) {
    throw py::value_error(std::string(name) + ": expected an array");
  }
}

}  // namespace

at::Tensor matrix(const py::handle& value, const char* name, py::object& keep) {
  py::array a = as_array(value, name);
  if (!a) throw py::value_error(std::string(name) + ": expected a 2-D array of float32 or float64");
  const bool f32 = a.dtype().is(py::dtype::of<float>()), f64 = a.dtype().is(py::dtype::of<double>());
  if (a.ndim() != 2 || !(f32 || f64))
    throw py::value_error(std::string(name) + ": expected a 2-D array of float32 or float64, got " + describe(a));
  if (a.shape(0) == 0 || a.shape(1) == 0)
    throw py::value_error(std::string(name) + ": empty array " + describe(a));
  if (!(a.flags() & py::array::c_style)) {
    a = f32 ? py::array(py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a))
            : py::array(py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a));
  }
  keep = a;
  at::Tensor t = torch::from_blob(const_cast<void*>(a.data()), {a.shape(0), a.shape(1)},
                                  f32 ? torch::kFloat32 : torch::kFloat64);
  // By blocks of rows, so that the check never holds a copy's worth of flags.
  for (int64_t start = 0; start < t.size(0); start += 16384) {
    const at::Tensor block = t.narrow(0, start, std::min<int64_t>(16384, t.size(0) - start));
    const at::Tensor good = torch::isfinite(block).all(1);
    if (!good.all().item<bool>()) {
      const int64_t row = start + torch::nonzero(~good)[0][0].item<int64_t>();
      throw py::value_error(std::string(name) + ": row " + std::to_string(row) + " has NaN or infinite values");
    }
  }
  return t;
}

std::vector<float> float_vector(const py::handle& value, const char* name) {
  py::array a = as_array(value, name);
  if (a.ndim() != 1) throw py::value_error(std::string(name) + ": expected a 1-D array, got " + describe(a));
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw py::value_error(std::string(name) + ": expected numbers, got " + describe(a));
  const auto f = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  std::vector<float> out(f.data(), f.data() + f.size());
  for (size_t i = 0; i < out.size(); ++i)
    if (std::isnan(out[i])) throw py::value_error(std::string(name) + "[" + std::to_string(i) + "] is NaN");
  return out;
}

std::vector<int64_t> int_vector(const py::handle& value, const char* name) {
  py::array a = as_array(value, name);
  if (a.ndim() != 1) throw py::value_error(std::string(name) + ": expected a 1-D array, got " + describe(a));
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'b' && kind != 'f')
    throw py::value_error(std::string(name) + ": expected integers, got " + describe(a));
  auto d = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
  std::vector<int64_t> out(static_cast<size_t>(d.size()));
  for (py::ssize_t i = 0; i < d.size(); ++i) {
    const double x = d.data()[i];
    if (!(std::floor(x) == x) || std::fabs(x) > 9e15)
      throw py::value_error(std::string(name) + "[" + std::to_string(i) + "]: expected an integer, got " +
                            std::to_string(x));
    out[static_cast<size_t>(i)] = static_cast<int64_t>(x);
  }
  return out;
}

py::array array_of(at::Tensor tensor) {
  tensor = tensor.to(torch::kCPU).contiguous();
  py::dtype dtype;
  switch (tensor.scalar_type()) {
    case torch::kFloat32: dtype = py::dtype::of<float>(); break;
    case torch::kFloat64: dtype = py::dtype::of<double>(); break;
    case torch::kInt64: dtype = py::dtype::of<int64_t>(); break;
    case torch::kInt32: dtype = py::dtype::of<int32_t>(); break;
    case torch::kUInt8: dtype = py::dtype::of<uint8_t>(); break;
    case torch::kInt8: dtype = py::dtype::of<int8_t>(); break;
    case torch::kInt16: dtype = py::dtype::of<int16_t>(); break;
    case torch::kBool: dtype = py::dtype::of<bool>(); break;
    case torch::kFloat16: dtype = py::dtype("float16"); break;
    default:
      tensor = tensor.to(torch::kFloat32);  // bfloat16 and others: NumPy has no such type
      dtype = py::dtype::of<float>();
  }
  std::vector<py::ssize_t> shape(tensor.sizes().begin(), tensor.sizes().end()), strides;
  for (int64_t s : tensor.strides()) strides.push_back(static_cast<py::ssize_t>(s * tensor.element_size()));
  auto* owner = new at::Tensor(tensor);
  py::capsule capsule(owner, [](void* p) { delete static_cast<at::Tensor*>(p); });
  return py::array(dtype, shape, strides, tensor.data_ptr(), capsule);
}

}  // namespace imret::python
