#pragma once
// Where a job's feedback goes: its progress bars and its messages ("report
// run-a: plots"). A job reports to a Feedback sink; the library never decides
// on its own to draw on the terminal.
//
// Which sink: a Progress (progress.hpp) takes the sink it is given, or else
// the calling thread's current sink: the one the innermost FeedbackScope on
// this thread installed, or else the terminal (stderr for progress, stdout for
// messages). Jobs on different threads thus report to their own sinks without
// a process-wide switch; a job that starts threads of its own hands its sink
// to them (a FeedbackScope in each, with the parent's current_feedback()).
//
// Sinks: TerminalFeedback (the CLI's output), SilentFeedback (nothing),
// CollectingFeedback (keeps everything, for tests and for callers that poll).
// feedback_log.hpp forwards spdlog's log lines to the current sink.
#include <cstdint>
#include <cstdio>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

namespace imret {

// One state of a progress display.
struct ProgressUpdate {
  uint64_t id = 0;      // tells apart the Progress objects reporting to one sink
  std::string label;    // "evaluate", "epoch 3/10"
  std::string unit;     // "img", "queries"
  std::string status;   // extra text after the rate ("loss 0.412"); may be empty
  int64_t done = 0;
  int64_t total = 0;    // 0 or less: unknown
  double seconds = 0;   // since the Progress started
  double rate = 0;      // units per second so far
  double eta_seconds = std::numeric_limits<double>::quiet_NaN();  // seconds left at `rate`; NaN: unknown
};

enum class LogLevel { trace, debug, info, warn, error, critical };

class Feedback {
 public:
  virtual ~Feedback() = default;

  // The least time between two progress_update calls of one Progress (it
  // counts without reporting in between); infinity: no updates at all.
  virtual double update_interval() const = 0;
  virtual void progress_started(const ProgressUpdate& update) = 0;
  virtual void progress_update(const ProgressUpdate& update) = 0;
  // Once per Progress: the final state (total time and mean rate).
  virtual void progress_finished(const ProgressUpdate& update) = 0;
  // A line of text for the person or program running the job.
  virtual void message(const std::string& text) = 0;
  // A log line (feedback_log.hpp), already formatted, without its level.
  virtual void log(LogLevel level, const std::string& text) = 0;
};

// What imret prints on a terminal. Progress goes to `progress_stream`: on a
// terminal one line redrawn at most 5 times a second, otherwise a line every
// 10 seconds, and the final line. Messages go to `message_stream`, one line
// each; log lines to `progress_stream` as "[level] text".
class TerminalFeedback : public Feedback {
 public:
  struct Options {
    std::FILE* progress_stream = stderr;
    std::FILE* message_stream = stdout;
    bool show_progress = true;  // false: messages and log lines only (imret --quiet)
  };
  TerminalFeedback() : TerminalFeedback(Options{}) {}
  explicit TerminalFeedback(Options options);

  double update_interval() const override;
  void progress_started(const ProgressUpdate&) override {}
  void progress_update(const ProgressUpdate& update) override { draw(update, false); }
  void progress_finished(const ProgressUpdate& update) override { draw(update, true); }
  void message(const std::string& text) override;
  void log(LogLevel level, const std::string& text) override;

 private:
  void draw(const ProgressUpdate& update, bool final_line);

  Options options_;
  bool tty_;
};

// Drops everything.
class SilentFeedback : public Feedback {
 public:
  double update_interval() const override;
  void progress_started(const ProgressUpdate&) override {}
  void progress_update(const ProgressUpdate&) override {}
  void progress_finished(const ProgressUpdate&) override {}
  void message(const std::string&) override {}
  void log(LogLevel, const std::string&) override {}
};

// Keeps every call, in order; safe to share between threads.
class CollectingFeedback : public Feedback {
 public:
  enum class Kind { started, update, finished, message, log };
  struct Event {
    Kind kind;
    ProgressUpdate progress;  // started, update, finished
    std::string text;         // message, log
    LogLevel level = LogLevel::info;  // log
  };

  // interval_seconds: update_interval(); 0 gets every advance.
  explicit CollectingFeedback(double interval_seconds = 0) : interval_(interval_seconds) {}

  double update_interval() const override { return interval_; }
  void progress_started(const ProgressUpdate& update) override { add({Kind::started, update, "", LogLevel::info}); }
  void progress_update(const ProgressUpdate& update) override { add({Kind::update, update, "", LogLevel::info}); }
  void progress_finished(const ProgressUpdate& update) override { add({Kind::finished, update, "", LogLevel::info}); }
  void message(const std::string& text) override { add({Kind::message, {}, text, LogLevel::info}); }
  void log(LogLevel level, const std::string& text) override { add({Kind::log, {}, text, level}); }

  std::vector<Event> events() const;
  // The texts of the message events, in order.
  std::vector<std::string> messages() const;

 private:
  void add(Event event);

  double interval_;
  mutable std::mutex mutex_;
  std::vector<Event> events_;
};

// The process's terminal sink (stderr and stdout), and a silent one.
Feedback& terminal_feedback();
Feedback& silent_feedback();

// The calling thread's sink: the innermost FeedbackScope's, or terminal_feedback().
Feedback& current_feedback();

// Makes `feedback` the calling thread's current sink until the scope ends
// (scopes nest; the one before comes back). `feedback` must outlive the scope.
class FeedbackScope {
 public:
  explicit FeedbackScope(Feedback& feedback);
  ~FeedbackScope();
  FeedbackScope(const FeedbackScope&) = delete;
  FeedbackScope& operator=(const FeedbackScope&) = delete;

 private:
  Feedback* previous_;
};

// The text of a progress line: "label [####....] 50/200  25%  5.00 img/s  ETA 0:30"
// with a total, "label 50 img  5.00 img/s" without; the final line is
// "label: 50 img in 0:10 (5.00 img/s)". The status follows after two spaces.
std::string progress_line(const ProgressUpdate& update, bool final_line);

}  // namespace imret
