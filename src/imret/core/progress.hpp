#pragma once
// Progress feedback for anything that takes more than a few seconds: count,
// percentage, items/s and ETA, reported to a Feedback sink (feedback.hpp):
// the one given, or else the calling thread's current sink (the terminal
// unless a FeedbackScope says otherwise). The sink sets how often it hears
// of it (the terminal: 5 times a second on a tty, every 10 seconds otherwise).
// A Progress is used by one thread at a time.
#include <chrono>
#include <cstdint>
#include <string>

#include "imret/core/feedback.hpp"

namespace imret {

class Progress {
 public:
  // Reports to current_feedback() of the constructing thread.
  Progress(std::string label, int64_t total, std::string unit = "items");
  Progress(Feedback& feedback, std::string label, int64_t total, std::string unit = "items");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  // Extra text shown after the rate (e.g. "loss 0.412").
  void set_status(std::string status) { status_ = std::move(status); }
  // Reports the final state (total time and mean rate). Called by the
  // destructor if not called before.
  void finish();
  double elapsed_seconds() const;
  double rate() const;  // items per second so far
  // The state now, as the sink hears of it.
  ProgressUpdate state() const;

 private:
  Feedback& feedback_;
  uint64_t id_;
  std::string label_;
  std::string unit_;
  std::string status_;
  int64_t total_;
  int64_t done_ = 0;
  bool finished_ = false;
  double interval_;  // feedback_.update_interval()
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_update_;
};

// Seconds from `start` to now (steady clock), for timings in logs and tables.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "1:05:03" / "4:07" style duration; "?" for NaN, infinite or negative.
std::string format_duration(double seconds);

}  // namespace imret
