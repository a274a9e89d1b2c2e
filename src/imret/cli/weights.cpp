// imret weights: inspect and convert weight files (torch.save .pth, safetensors).
#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"

namespace imret::cli {

void add_weights_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("weights", "Inspect and convert weight files (.pth, .safetensors)");
  command->require_subcommand(1);
}

}  // namespace imret::cli
