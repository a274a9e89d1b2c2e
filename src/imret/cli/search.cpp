#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"

namespace imret::cli {
void add_search_command(CLI::App& app) { app.add_subcommand("search", "TODO"); }
}  // namespace imret::cli
