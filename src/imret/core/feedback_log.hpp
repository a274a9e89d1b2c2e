#pragma once
// An spdlog sink that hands each log line to the logging thread's current
// Feedback (feedback.hpp): a server or a Python caller that runs jobs on
// several threads gets each job's warnings in that job's sink.
//
//   spdlog::default_logger()->sinks() = {imret::make_feedback_log_sink()};
//
// The CLI does not use it: its logs go to stderr through spdlog directly.
#include <memory>

#include <spdlog/sinks/sink.h>

namespace imret {

// Lines are formatted with the pattern "%v" (the text alone; the level goes
// to Feedback::log apart) unless set_pattern changes it, without the newline.
// The sink's lock is held while the Feedback takes the line: a Feedback must
// not log through spdlog from its log().
std::shared_ptr<spdlog::sinks::sink> make_feedback_log_sink();

}  // namespace imret
