#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"

namespace imret::cli {
void add_embed_command(CLI::App& app) { app.add_subcommand("embed", "TODO"); }
}  // namespace imret::cli
