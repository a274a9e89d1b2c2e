#include "imret/core/progress.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>

namespace imret {
namespace {
std::atomic<uint64_t> g_next_id{1};
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", total / 3600, (total / 60) % 60, total % 60);
  else
    std::snprintf(text, sizeof text, "%lld:%02lld", total / 60, total % 60);
  return text;
}

Progress::Progress(std::string label, int64_t total, std::string unit)
    : Progress(current_feedback(), std::move(label), total, std::move(unit)) {}

Progress::Progress(Feedback& feedback, std::string label, int64_t total, std::string unit)
    : feedback_(feedback),
      id_(g_next_id++),
      label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      interval_(feedback.update_interval()) {
  start_ = last_update_ = std::chrono::steady_clock::now();
  feedback_.progress_started(state());
}

Progress::~Progress() {
  if (!finished_) finish();
}

double Progress::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double Progress::rate() const {
  const double seconds = elapsed_seconds();
  return seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
}

ProgressUpdate Progress::state() const {
  ProgressUpdate update;
  update.id = id_;
  update.label = label_;
  update.unit = unit_;
  update.status = status_;
  update.done = done_;
  update.total = total_;
  update.seconds = elapsed_seconds();
  update.rate = update.seconds > 0 ? static_cast<double>(done_) / update.seconds : 0.0;
  if (total_ > 0 && update.rate > 0) update.eta_seconds = static_cast<double>(total_ - done_) / update.rate;
  return update;
}

void Progress::advance(int64_t n) {
  done_ += n;
  if (std::isinf(interval_)) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_update_).count() >= interval_) {
    last_update_ = now;
    feedback_.progress_update(state());
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  feedback_.progress_finished(state());
}

}  // namespace imret
