// imret weights: inspect and convert weight files (torch.save .pth, safetensors).
//   imret weights info FILE [--json]      keys, dtypes, shapes, parameter counts
//   imret weights convert IN OUT.safetensors
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "imret/cli/commands.hpp"
#include "imret/core/error.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/core/version.hpp"

namespace imret::cli {
namespace {

std::string dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    default: return c10::toString(type);
  }
}

std::string shape_text(const at::Tensor& t) {
  std::string text = "[";
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? ", " : "") + std::to_string(t.size(d));
  return text + "]";
}

struct InfoArgs {
  std::string file;
  bool json = false;
};

void run_info(const InfoArgs& args) {
  const TensorFileFormat format = detect_tensor_file_format(args.file);
  const TensorFile file = load_tensor_file(args.file);
  int64_t total = 0;
  for (const auto& [name, tensor] : file.tensors) total += tensor.numel();
  if (args.json) {
    nlohmann::ordered_json out;
    out["file"] = args.file;
    out["format"] = tensor_file_format_name(format);
    out["tensor_count"] = file.tensors.size();
    out["total_parameters"] = total;
    nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
    for (const auto& [name, tensor] : file.tensors)
      tensors.push_back(
          {{"name", name}, {"dtype", dtype_name(tensor.scalar_type())}, {"shape", tensor.sizes().vec()},
           {"parameters", tensor.numel()}});
    out["tensors"] = std::move(tensors);
    out["metadata"] = file.metadata;
    std::printf("%s\n", out.dump(2).c_str());
    return;
  }
  size_t width = 4;
  for (const auto& [name, tensor] : file.tensors) width = std::max(width, name.size());
  std::printf("%s: %s, %zu tensors, %lld parameters\n", args.file.c_str(), tensor_file_format_name(format),
              file.tensors.size(), static_cast<long long>(total));
  std::printf("%-*s  %-8s  %-22s  %12s\n", static_cast<int>(width), "name", "dtype", "shape", "parameters");
  for (const auto& [name, tensor] : file.tensors)
    std::printf("%-*s  %-8s  %-22s  %12lld\n", static_cast<int>(width), name.c_str(),
                dtype_name(tensor.scalar_type()).c_str(), shape_text(tensor).c_str(),
                static_cast<long long>(tensor.numel()));
  std::printf("total parameters: %lld\n", static_cast<long long>(total));
}

struct ConvertArgs {
  std::string in;
  std::string out;
};

void run_convert(const ConvertArgs& args) {
  const std::filesystem::path out(args.out);
  if (out.extension() != ".safetensors")
    throw UsageError("the output file must end in .safetensors (got '" + args.out + "')");
  const TensorFileFormat format = detect_tensor_file_format(args.in);
  const TensorFile file = load_tensor_file(args.in);
  std::map<std::string, std::string> metadata = file.metadata;
  metadata["format"] = "pt";  // safetensors' convention: the tensors are PyTorch's
  metadata["source"] = std::filesystem::path(args.in).filename().string();
  metadata["source_format"] = tensor_file_format_name(format);
  metadata["converted_by"] = std::string("imret ") + kVersion;
  save_safetensors(out, file.tensors, metadata);
  int64_t total = 0;
  for (const auto& [name, tensor] : file.tensors) total += tensor.numel();
  std::printf("wrote %s: %zu tensors, %lld parameters (from %s, %s)\n", args.out.c_str(), file.tensors.size(),
              static_cast<long long>(total), args.in.c_str(), tensor_file_format_name(format));
}

}  // namespace

void add_weights_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("weights", "Inspect and convert weight files (.pth, .safetensors)");
  command->require_subcommand(1);

  auto info = std::make_shared<InfoArgs>();
  CLI::App* info_command =
      command->add_subcommand("info", "Keys, dtypes, shapes and parameter counts of a .pth or safetensors file");
  info_command->add_option("file", info->file, "Weight file (torch.save .pth, zip or legacy; or .safetensors)")
      ->required();
  info_command->add_flag("--json", info->json, "Print JSON instead of a table");
  info_command->callback([info] { run_info(*info); });

  auto convert = std::make_shared<ConvertArgs>();
  CLI::App* convert_command =
      command->add_subcommand("convert", "Convert a .pth (or safetensors) file to safetensors (written atomically)");
  convert_command->add_option("in", convert->in, "Weight file to read")->required();
  convert_command->add_option("out", convert->out, "Output .safetensors file")->required();
  convert_command->callback([convert] { run_convert(*convert); });
}

}  // namespace imret::cli
