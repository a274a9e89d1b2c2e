// imret: content-based image retrieval. main only parses global options and
// dispatches to the sub-commands (one file each in this folder).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include "imret/cli/commands.hpp"
#include "imret/cli/setting_options.hpp"
#include "imret/core/error.hpp"
#include "imret/core/feedback.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/version.hpp"

namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and
// swaps of two neighbouring letters ("trian" is 1 from "train").
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// The deepest sub-command on the command line ("index build"), or the app.
const CLI::App* chosen_command(const CLI::App& app) {
  const CLI::App* command = &app;
  while (!command->get_subcommands().empty()) command = command->get_subcommands().front();
  return command;
}

// "index build": the sub-command names from the app down to `command`.
std::string command_path(const CLI::App* command) {
  std::string path;
  for (; command->get_parent(); command = command->get_parent())
    path = command->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

// The message for a command line that names no sub-command, or an unknown
// one, where `command` needs one; empty where it needs none.
std::string subcommand_problem(const CLI::App& app, const CLI::App* command) {
  if (command->get_require_subcommand_min() == 0) return "";
  std::vector<std::string> names;
  for (const CLI::App* sub : command->get_subcommands([](const CLI::App* s) { return !s->get_name().empty(); }))
    names.push_back(sub->get_name());
  const std::string path = command_path(command);
  const std::string prefix = path.empty() ? "" : path + " ";
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  // Words the parser could not place; with fallthrough they reach the app.
  const std::vector<std::string> words = app.remaining(true);
  const auto word = std::find_if(words.begin(), words.end(), [](const std::string& w) { return w.rfind('-', 0) != 0; });
  if (word == words.end()) return (path.empty() ? "" : path + ": ") + "a sub-command is required (one of: " + list + ")";
  const auto closest = std::min_element(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    return edit_distance(*word, a) < edit_distance(*word, b);
  });
  const std::string unknown = "unknown sub-command '" + prefix + *word + "'";
  if (edit_distance(*word, *closest) <= std::max<size_t>(1, (word->size() + 2) / 3))
    return unknown + " (did you mean '" + prefix + *closest + "'?)";
  return unknown + " (expected one of: " + list + ")";
}

}  // namespace

int main(int argc, char** argv) {
  // Line-buffered stdout keeps printed results in order with the progress lines on stderr.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Logs go to stderr with progress; stdout carries only results.
  spdlog::set_default_logger(spdlog::stderr_color_mt("imret"));
  CLI::App app{"imret: content-based image retrieval (learn an embedding, index, search, evaluate)", "imret"};
  app.require_subcommand(1);
  // Global options are also taken after the sub-command, at any depth ("imret
  // index search ... --threads 2"); a sub-command's own option of the same
  // name wins (-q is --queries in search, evaluate and compare-search).
  // Inherited by the sub-commands added below.
  app.fallthrough();
  app.set_version_flag("--version", imret::kVersion);
  int64_t threads = 0;
  bool quiet = false;
  // --quiet: the terminal without progress bars for the commands, which run on this thread.
  imret::TerminalFeedback quiet_feedback({stderr, stdout, /*show_progress=*/false});
  std::optional<imret::FeedbackScope> quiet_scope;
  std::string log_level = "info";
  CLI::Option* threads_option =
      app.add_option("--threads", threads, "CPU threads for LibTorch: 1 to 4 x the cores (default: all cores)");
  app.add_flag("-q,--quiet", quiet, "No progress bars");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.parse_complete_callback([&] {
    spdlog::set_level(spdlog::level::from_str(log_level));
    spdlog::set_pattern("%^[%l]%$ %v");
    if (quiet) quiet_scope.emplace(quiet_feedback);
    if (threads_option->count()) imret::check_thread_count("threads", threads);  // 0 too
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
  imret::cli::add_serve_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const CLI::App* command = chosen_command(app);
    const std::string problem = e.get_exit_code() == 0 ? "" : subcommand_problem(app, command);
    if (problem.empty()) return app.exit(e);
    std::fprintf(stderr, "imret: error: %s\n", problem.c_str());
    return 2;
  } catch (const imret::SettingError& e) {  // the library names the setting: show its option
    std::fprintf(stderr, "imret: error: %s\n", e.message(imret::cli::option_of).c_str());
    return 2;
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
