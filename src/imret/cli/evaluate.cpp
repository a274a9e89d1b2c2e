#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"

namespace imret::cli {
void add_evaluate_command(CLI::App& app) { app.add_subcommand("evaluate", "TODO"); }
}  // namespace imret::cli
