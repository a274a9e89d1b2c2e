// imret: content-based image retrieval. main only parses global options and
// dispatches to the sub-commands (one file each in this folder).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "imret/cli/commands.hpp"
#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/version.hpp"

int main(int argc, char** argv) {
  // Line-buffered stdout keeps printed results in order with the progress lines on stderr.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Logs go to stderr with progress; stdout carries only results.
  spdlog::set_default_logger(spdlog::stderr_color_mt("imret"));
  CLI::App app{"imret: content-based image retrieval (learn an embedding, index, search, evaluate)", "imret"};
  app.require_subcommand(1);
  app.set_version_flag("--version", imret::kVersion);
  int threads = 0;
  bool quiet = false;
  std::string log_level = "info";
  app.add_option("--threads", threads, "CPU threads for LibTorch (default: all cores)");
  app.add_flag("-q,--quiet", quiet, "No progress bars");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.parse_complete_callback([&] {
    spdlog::set_level(spdlog::level::from_str(log_level));
    spdlog::set_pattern("%^[%l]%$ %v");
    imret::Progress::set_enabled(!quiet);
    imret::configure_threads(threads);
  });

  imret::cli::add_train_command(app);
  imret::cli::add_embed_command(app);
  imret::cli::add_search_command(app);
  imret::cli::add_index_command(app);
  imret::cli::add_compare_search_command(app);
  imret::cli::add_evaluate_command(app);
  imret::cli::add_demo_command(app);
  imret::cli::add_experiment_command(app);
  imret::cli::add_weights_command(app);
  imret::cli::add_visualize_command(app);
  imret::cli::add_plot_command(app);
  imret::cli::add_grid_command(app);
  imret::cli::add_report_command(app);
  imret::cli::add_coco_command(app);
  imret::cli::add_detect_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const imret::UsageError& e) {
    std::fprintf(stderr, "imret: error: %s\n", e.what());
    return 2;
  } catch (const imret::Error& e) {
    std::fprintf(stderr, "imret: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "imret: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
