#include "imret/core/feedback.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "imret/core/progress.hpp"

namespace imret {
namespace {

thread_local Feedback* t_current = nullptr;

// "1234 images/s", "12.3 images/s", "0.37 images/s": slow work (a detector
// on the CPU) still shows its rate.
std::string rate_text(double per_second, const std::string& unit) {
  char text[96];
  const char* format = per_second >= 100 ? "%.0f %s/s" : per_second >= 10 ? "%.1f %s/s" : "%.2f %s/s";
  std::snprintf(text, sizeof text, format, per_second, unit.c_str());
  return text;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warning";
    case LogLevel::error: return "error";
    case LogLevel::critical: return "critical";
  }
  return "?";
}

}  // namespace

std::string progress_line(const ProgressUpdate& update, bool final_line) {
  const std::string rate = rate_text(update.rate, update.unit);
  const char* gap = update.status.empty() ? "" : "  ";
  char line[512];
  if (final_line) {
    std::snprintf(line, sizeof line, "%s: %lld %s in %s (%s)%s%s", update.label.c_str(),
                  static_cast<long long>(update.done), update.unit.c_str(), format_duration(update.seconds).c_str(),
                  rate.c_str(), gap, update.status.c_str());
  } else if (update.total > 0) {
    const double fraction = std::min(1.0, static_cast<double>(update.done) / static_cast<double>(update.total));
    const int width = 24;
    const int filled = static_cast<int>(fraction * width);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '.');
    std::snprintf(line, sizeof line, "%s [%s] %lld/%lld %3.0f%%  %s  ETA %s%s%s", update.label.c_str(), bar.c_str(),
                  static_cast<long long>(update.done), static_cast<long long>(update.total), 100.0 * fraction,
                  rate.c_str(), format_duration(update.eta_seconds).c_str(), gap, update.status.c_str());
  } else {
    std::snprintf(line, sizeof line, "%s %lld %s  %s%s%s", update.label.c_str(), static_cast<long long>(update.done),
                  update.unit.c_str(), rate.c_str(), gap, update.status.c_str());
  }
  return line;
}

TerminalFeedback::TerminalFeedback(Options options)
    : options_(options), tty_(::isatty(::fileno(options.progress_stream)) != 0) {}

double TerminalFeedback::update_interval() const {
  if (!options_.show_progress) return std::numeric_limits<double>::infinity();
  return tty_ ? 0.2 : 10.0;
}

void TerminalFeedback::draw(const ProgressUpdate& update, bool final_line) {
  if (!options_.show_progress) return;
  const std::string line = progress_line(update, final_line);
  if (tty_)
    std::fprintf(options_.progress_stream, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  else
    std::fprintf(options_.progress_stream, "%s\n", line.c_str());
  std::fflush(options_.progress_stream);
}

void TerminalFeedback::message(const std::string& text) {
  std::fprintf(options_.message_stream, "%s\n", text.c_str());
  std::fflush(options_.message_stream);
}

void TerminalFeedback::log(LogLevel level, const std::string& text) {
  std::fprintf(options_.progress_stream, "[%s] %s\n", level_name(level), text.c_str());
  std::fflush(options_.progress_stream);
}

double SilentFeedback::update_interval() const { return std::numeric_limits<double>::infinity(); }

void CollectingFeedback::add(Event event) {
  std::lock_guard<std::mutex> lock(mutex_);
  events_.push_back(std::move(event));
}

std::vector<CollectingFeedback::Event> CollectingFeedback::events() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return events_;
}

std::vector<std::string> CollectingFeedback::messages() const {
  std::vector<std::string> texts;
  for (const Event& event : events())
    if (event.kind == Kind::message) texts.push_back(event.text);
  return texts;
}

Feedback& terminal_feedback() {
  static TerminalFeedback feedback;
  return feedback;
}

Feedback& silent_feedback() {
  static SilentFeedback feedback;
  return feedback;
}

Feedback& current_feedback() { return t_current ? *t_current : terminal_feedback(); }

FeedbackScope::FeedbackScope(Feedback& feedback) : previous_(t_current) { t_current = &feedback; }

FeedbackScope::~FeedbackScope() { t_current = previous_; }

}  // namespace imret
