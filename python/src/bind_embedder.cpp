// imret.Embedder: a checkpoint's network embedding images from Python, as
// `imret embed` does (the checkpoint's evaluation preprocessing).
#include <pybind11/stl.h>
#include <torch/torch.h>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/precision.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/models/channels_last.hpp"
#include "imret/pipeline/networks.hpp"
#include "imret/pipeline/query.hpp"

namespace imret::python {

namespace {

class PyEmbedder {
 public:
  PyEmbedder(const std::optional<std::string>& checkpoint, const std::string& device, int64_t batch_size,
             const std::optional<std::string>& database, const std::string& precision)
      : device_(parse_device(device)), batch_size_(batch_size) {
    const Precision arithmetic = parse_precision(precision);
    check_precision_on(arithmetic, device_);
    if (batch_size < 1) throw py::value_error("batch_size: must be >= 1, got " + std::to_string(batch_size));
    if (!checkpoint && !database)
      throw py::value_error("give a checkpoint, or database= (an embedding folder, to embed as its vectors were made)");
    if (checkpoint) require_path(*checkpoint, "checkpoint");
    nlohmann::json meta = nlohmann::json::object();
    if (database) {
      require_path(*database + "/meta.json", "database");
      meta = read_file([&] { return nlohmann::json::parse(imret::read_file(*database + "/meta.json")); });
    }
    loaded_ = read_file([&] { return pipeline::embedding_network(meta, checkpoint.value_or("")); });
    loaded_.network->eval();
    loaded_.network->to(device_);
    loaded_.network->set_precision(arithmetic);
    models::use_channels_last(*loaded_.network);  // as imret embed and imret serve run it
    preparer_ = std::make_unique<pipeline::QueryImagePreparer>(loaded_);
  }

  // Paths (str or os.PathLike) or a batch of uint8 images (N x H x W x 3, or
  // N x H x W grey), in [0, 255] as files hold them.
  py::array embed(const py::object& images) {
    std::vector<at::Tensor> prepared;
    if (py::isinstance<py::array>(images)) {
      py::array a = py::array::ensure(images);
      if (!a.dtype().is(py::dtype::of<uint8_t>()) || (a.ndim() != 4 && a.ndim() != 3) ||
          (a.ndim() == 4 && a.shape(3) != 3))
        throw py::value_error("images: expected uint8 images N x H x W x 3 (or N x H x W grey), or a list of paths");
      if (a.shape(0) == 0) throw py::value_error("images: empty");
      auto c = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>::ensure(a);
      const int64_t n = c.shape(0), h = c.shape(1), w = c.shape(2), channels = a.ndim() == 4 ? 3 : 1;
      at::Tensor pixels = torch::from_blob(const_cast<uint8_t*>(c.data()), {n, h, w, channels}, torch::kUInt8);
      py::gil_scoped_release release;
      for (int64_t i = 0; i < n; ++i) {
        at::Tensor rgb = pixels[i].permute({2, 0, 1}).to(torch::kFloat32).div(255.0);
        if (channels == 1) rgb = rgb.expand({3, h, w});
        prepared.push_back(preparer_->prepare(rgb.contiguous()));
      }
    } else {
      std::vector<std::string> paths;
      for (const py::handle& item : images) paths.push_back(py::str(py::module_::import("os").attr("fspath")(item)));
      if (paths.empty()) throw py::value_error("images: empty");
      for (const std::string& path : paths) require_path(path, "image file");
      prepared = read_file([&] {
        std::vector<at::Tensor> out;
        for (const std::string& path : paths) out.push_back(preparer_->prepare(data::decode_image_rgb(path)));
        return out;
      });
    }
    at::Tensor embeddings;
    {
      py::gil_scoped_release release;
      torch::InferenceMode inference;
      std::vector<at::Tensor> parts;
      for (size_t start = 0; start < prepared.size(); start += static_cast<size_t>(batch_size_)) {
        const size_t end = std::min(prepared.size(), start + static_cast<size_t>(batch_size_));
        std::vector<at::Tensor> batch(prepared.begin() + static_cast<long>(start), prepared.begin() + static_cast<long>(end));
        at::Tensor input = models::channels_last(torch::stack(batch).to(device_));
        parts.push_back(loaded_.network->embed(input).to(torch::kCPU, torch::kFloat32));
      }
      embeddings = torch::cat(parts);
    }
    return array_of(embeddings);
  }

  int64_t dimension() const { return loaded_.network->embedding_dim(); }

 private:
  static c10::Device parse_device(const std::string& device) {
    if (device == "cpu") return c10::kCPU;
    if (device.rfind("cuda", 0) == 0) {
      if (!torch::cuda::is_available()) throw py::value_error("device " + device + ": no CUDA device here");
      return c10::Device(device);
    }
    throw py::value_error("device " + device + ": expected \"cpu\" or \"cuda\"");
  }

  c10::Device device_;
  int64_t batch_size_;
  models::LoadedNetwork loaded_;
  std::unique_ptr<pipeline::QueryImagePreparer> preparer_;
};

}  // namespace

void bind_embedder(py::module_& m) {
  py::class_<PyEmbedder>(m, "Embedder", R"(A network that embeds images as `imret embed` does.

checkpoint: a checkpoint imret wrote (train, or weights convert), with its preprocessing.
database: an embedding folder (imret embed): embed as its vectors were made, with the network,
pooling, scales and whitening its meta.json records (a checkpoint given too replaces its network).
device: "cpu" or "cuda". precision: "fp32", "bf16", or on CUDA "tf32" and "fp16" (docs/gpu.md).
embed(images): a list of image paths, or a uint8 batch N x H x W x 3
(or N x H x W grey) -> N x dimension float32.)")
      .def(py::init<const std::optional<std::string>&, const std::string&, int64_t, const std::optional<std::string>&,
                    const std::string&>(),
           py::arg("checkpoint") = py::none(), py::arg("device") = "cpu", py::arg("batch_size") = 64,
           py::arg("database") = py::none(), py::arg("precision") = "fp32")
      .def("embed", &PyEmbedder::embed, py::arg("images"))
      .def_property_readonly("dimension", &PyEmbedder::dimension);
}

}  // namespace imret::python
