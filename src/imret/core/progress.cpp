#include "imret/core/progress.hpp"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>

namespace imret {
namespace {
std::atomic<bool> g_enabled{true};
}

void Progress::set_enabled(bool enabled) { g_enabled = enabled; }

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
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(::isatty(2) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
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

void Progress::advance(int64_t n) {
  done_ += n;
  if (!g_enabled) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.2 : 10.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (g_enabled) draw(true);
}

namespace {

// "1234 images/s", "12.3 images/s", "0.37 images/s": slow work (a detector
// on the CPU) still shows its rate.
std::string rate_text(double per_second, const std::string& unit) {
  char text[96];
  const char* format = per_second >= 100 ? "%.0f %s/s" : per_second >= 10 ? "%.1f %s/s" : "%.2f %s/s";
  std::snprintf(text, sizeof text, format, per_second, unit.c_str());
  return text;
}

}  // namespace

void Progress::draw(bool final_line) {
  const double seconds = elapsed_seconds();
  const double per_second = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  const std::string rate = rate_text(per_second, unit_);
  char line[512];
  if (final_line) {
    std::snprintf(line, sizeof line, "%s: %lld %s in %s (%s)%s%s", label_.c_str(), static_cast<long long>(done_),
                  unit_.c_str(), format_duration(seconds).c_str(), rate.c_str(), status_.empty() ? "" : "  ",
                  status_.c_str());
  } else if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    const int width = 24;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '.');
    const double eta = per_second > 0 ? static_cast<double>(total_ - done_) / per_second : NAN;
    std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %3.0f%%  %s  ETA %s%s%s", label_.c_str(), bar.c_str(),
                  static_cast<long long>(done_), static_cast<long long>(total_), 100.0 * fraction, rate.c_str(),
                  format_duration(eta).c_str(), status_.empty() ? "" : "  ", status_.c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld %s  %s%s%s", label_.c_str(), static_cast<long long>(done_), unit_.c_str(),
                  rate.c_str(), status_.empty() ? "" : "  ", status_.c_str());
  }
  if (tty_)
    std::fprintf(stderr, "\r\033[K%s%s", line, final_line ? "\n" : "");
  else
    std::fprintf(stderr, "%s\n", line);
  std::fflush(stderr);
}

}  // namespace imret
