#pragma once
// The HTML report of run folders into a folder (`imret report`): one run's
// page, or a page comparing several with each run's page under runs/<name>/.
// The report is built aside and replaces an earlier report there whole.
#include <filesystem>
#include <vector>

#include "imret/viz/run_report.hpp"

namespace imret::pipeline {

// Writes the report of `runs` into `folder`; returns its page. UsageError
// when this build has no plots (cairo) or no run is given; the options are
// checked by viz::write_run_report / write_comparison_report.
std::filesystem::path report_to_folder(const std::vector<viz::ReportedRun>& runs, const std::filesystem::path& folder,
                                       const viz::ReportOptions& options);

}  // namespace imret::pipeline
