#pragma once
// NumPy arrays in and out of imret: a C-contiguous float32/float64 array is
// viewed as a tensor without a copy (the array must outlive the call); an
// output tensor becomes an array that owns it (no copy). Errors name the
// argument: "queries: expected a 2-D array of float32 or float64, got ...".
#include <ATen/core/Tensor.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace imret::python {

namespace py = pybind11;

// A 2-D float32/float64 array as a tensor of the same dtype. C-contiguous
// arrays are viewed, others copied into `keep` (which must outlive the
// tensor). ValueError naming `name` for another dtype, shape, an empty
// array, or NaN/inf values.
at::Tensor matrix(const py::handle& value, const char* name, py::object& keep);
// A 1-D array of numbers as float32 values (scores), NaN refused.
std::vector<float> float_vector(const py::handle& value, const char* name);
// A 1-D array of integers (labels, ids); floats that are whole numbers are accepted.
std::vector<int64_t> int_vector(const py::handle& value, const char* name);

// The tensor as an array that keeps it alive (no copy for contiguous CPU tensors).
py::array array_of(at::Tensor tensor);

}  // namespace imret::python
