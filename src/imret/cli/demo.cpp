#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"

namespace imret::cli {
void add_demo_command(CLI::App& app) { app.add_subcommand("demo", "TODO"); }
}  // namespace imret::cli
