#pragma once
// Each sub-command lives in its own file and registers itself on the app.
// The callback runs after global options are parsed (threads are set).
namespace CLI {
class App;
}

namespace imret::cli {

void add_train_command(CLI::App& app);
void add_embed_command(CLI::App& app);
void add_search_command(CLI::App& app);
void add_index_command(CLI::App& app);
void add_compare_search_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_experiment_command(CLI::App& app);
void add_weights_command(CLI::App& app);
void add_visualize_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_grid_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_coco_command(CLI::App& app);
void add_detect_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace imret::cli
