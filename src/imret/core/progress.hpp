#pragma once
// Progress feedback for anything that takes more than a few seconds: count,
// percentage, items/s and ETA on stderr. On a terminal one line is redrawn
// (at most 5 times a second); otherwise a line is printed every 10 seconds.
#include <chrono>
#include <cstdint>
#include <string>

namespace imret {

class Progress {
 public:
  Progress(std::string label, int64_t total, std::string unit = "items");
  ~Progress();

  void advance(int64_t n = 1);
  // Extra text shown after the rate (e.g. "loss 0.412").
  void set_status(std::string status) { status_ = std::move(status); }
  // Prints the final line (total time and mean rate). Called by the destructor
  // if not called before.
  void finish();
  double elapsed_seconds() const;
  double rate() const;  // items per second so far

  // Silences every progress display (imret --quiet).
  static void set_enabled(bool enabled);

 private:
  void draw(bool final_line);

  std::string label_;
  std::string unit_;
  std::string status_;
  int64_t total_;
  int64_t done_ = 0;
  bool finished_ = false;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Seconds from `start` to now (steady clock), for timings in logs and tables.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// "1:05:03" / "4:07" style duration.
std::string format_duration(double seconds);

}  // namespace imret
