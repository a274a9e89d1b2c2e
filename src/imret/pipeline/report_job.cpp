#include "imret/pipeline/report_job.hpp"

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/viz/plot.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

OutputRules report_rules(const std::vector<viz::ReportedRun>& runs) {
  OutputRules rules;
  rules.kind = "report";
  rules.command = "report";
  rules.replace = true;
  for (const auto& run : runs) rules.inputs.push_back(run.folder);
  // Written before markers: imret's page (its title says so) and its pictures.
  rules.legacy = [](const fs::path& folder) {
    if (!only_entries(folder, {"index.html", "runs"}, {".png", ".svg", ".csv"}, "index.html")) return false;
    try {
      return read_file(folder / "index.html").find("<title>imret report: ") != std::string::npos;
    } catch (const Error&) {
      return false;
    }
  };
  return rules;
}

}  // namespace

fs::path report_to_folder(const std::vector<viz::ReportedRun>& runs, const fs::path& folder,
                          const viz::ReportOptions& options) {
  if (!viz::has_plots()) throw UsageError("reports need plots, and this build has none (cairo); rebuild with libcairo2-dev");
  if (runs.empty()) throw UsageError("a report needs at least one run folder");
  OutputFolder out(folder, report_rules(runs));
  const fs::path page = runs.size() == 1 ? viz::write_run_report(runs[0], out.path(), options)
                                         : viz::write_comparison_report(runs, out.path(), options);
  out.publish();
  return folder / page.filename();
}

}  // namespace imret::pipeline
