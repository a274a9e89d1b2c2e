#include "imret/core/feedback_log.hpp"

#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string>

#include "imret/core/feedback.hpp"

namespace imret {
namespace {

LogLevel level_of(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace: return LogLevel::trace;
    case spdlog::level::debug: return LogLevel::debug;
    case spdlog::level::info: return LogLevel::info;
    case spdlog::level::warn: return LogLevel::warn;
    case spdlog::level::err: return LogLevel::error;
    default: return LogLevel::critical;
  }
}

// The mutex guards the formatter; each thread reaches its own Feedback.
class FeedbackLogSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string text(formatted.data(), formatted.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    current_feedback().log(level_of(msg.level), text);
  }
  void flush_() override {}
};

}  // namespace

std::shared_ptr<spdlog::sinks::sink> make_feedback_log_sink() {
  auto sink = std::make_shared<FeedbackLogSink>();
  sink->set_pattern("%v");
  return sink;
}

}  // namespace imret
