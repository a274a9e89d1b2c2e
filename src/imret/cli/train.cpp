#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"

namespace imret::cli {
void add_train_command(CLI::App& app) { app.add_subcommand("train", "TODO"); }
}  // namespace imret::cli
