// Feedback sinks: a Progress reports to its thread's current sink (or the one
// it is given), threads with different sinks do not see each other's
// progress, the silent sink prints nothing, and the terminal sink writes
// today's lines (rate, ETA; redrawn in place on a terminal).
#include "imret/core/feedback.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "imret/core/feedback_log.hpp"
#include "imret/core/progress.hpp"

using imret::CollectingFeedback;
using Kind = imret::CollectingFeedback::Kind;

namespace {

// What was written to `file` (from its start).
std::string contents(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}

imret::ProgressUpdate update_of(const std::string& label, int64_t done, int64_t total, double seconds) {
  imret::ProgressUpdate update;
  update.label = label;
  update.unit = "img";
  update.done = done;
  update.total = total;
  update.seconds = seconds;
  update.rate = done / seconds;
  if (total > 0) update.eta_seconds = (total - done) / update.rate;
  return update;
}

// Runs a Progress over `count` items on the calling thread.
void count_to(const std::string& label, int64_t count) {
  imret::Progress progress(label, count, "img");
  for (int64_t i = 0; i < count; ++i) progress.advance();
}

}  // namespace

TEST(Feedback, ACollectingSinkReceivesTheProgressOfItsThread) {
  CollectingFeedback sink;
  imret::FeedbackScope scope(sink);
  {
    imret::Progress progress("embed", 3, "img");
    progress.advance();
    progress.advance(2);
    progress.set_status("loss 0.5");
    progress.finish();
    progress.finish();  // once only
  }
  const auto events = sink.events();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].kind, Kind::started);
  EXPECT_EQ(events[1].kind, Kind::update);
  EXPECT_EQ(events[2].kind, Kind::update);
  EXPECT_EQ(events[3].kind, Kind::finished);
  EXPECT_EQ(events[0].progress.done, 0);
  EXPECT_EQ(events[1].progress.done, 1);
  EXPECT_EQ(events[2].progress.done, 3);
  EXPECT_EQ(events[3].progress.done, 3);
  EXPECT_EQ(events[3].progress.status, "loss 0.5");
  for (const auto& event : events) {
    EXPECT_EQ(event.progress.label, "embed");
    EXPECT_EQ(event.progress.unit, "img");
    EXPECT_EQ(event.progress.total, 3);
    EXPECT_EQ(event.progress.id, events[0].progress.id);
  }
  EXPECT_GE(events[3].progress.seconds, events[1].progress.seconds);
}

TEST(Feedback, TheDestructorFinishesAndEachProgressHasItsOwnId) {
  CollectingFeedback sink;
  imret::FeedbackScope scope(sink);
  count_to("first", 2);
  count_to("second", 1);
  const auto events = sink.events();
  ASSERT_EQ(events.size(), 7u);  // started, 2 updates, finished; started, update, finished
  EXPECT_EQ(events[3].kind, Kind::finished);
  EXPECT_EQ(events[3].progress.label, "first");
  EXPECT_EQ(events[6].kind, Kind::finished);
  EXPECT_EQ(events[6].progress.label, "second");
  EXPECT_NE(events[0].progress.id, events[4].progress.id);
}

TEST(Feedback, TheStateCarriesRateAndEta) {
  imret::Progress progress(imret::silent_feedback(), "work", 100, "items");
  EXPECT_TRUE(std::isnan(progress.state().eta_seconds));  // no rate yet
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  progress.advance(25);
  const imret::ProgressUpdate state = progress.state();
  EXPECT_GT(state.rate, 0);
  EXPECT_NEAR(state.rate, 25 / state.seconds, 1e-9 * state.rate);
  EXPECT_NEAR(state.eta_seconds, 75 / state.rate, 1e-9 * state.eta_seconds);
  imret::Progress unbounded(imret::silent_feedback(), "work", 0, "items");
  unbounded.advance(5);
  EXPECT_TRUE(std::isnan(unbounded.state().eta_seconds));  // no total
}

TEST(Feedback, UpdatesComeNoMoreOftenThanTheSinkAsks) {
  CollectingFeedback sink(3600);  // an hour between updates
  imret::Progress progress(sink, "slow sink", 1000);
  for (int i = 0; i < 1000; ++i) progress.advance();
  progress.finish();
  const auto events = sink.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::started);
  EXPECT_EQ(events[1].kind, Kind::finished);
  EXPECT_EQ(events[1].progress.done, 1000);
}

TEST(Feedback, AGivenSinkWinsOverTheThreadsAndScopesNest) {
  CollectingFeedback outer, inner, given;
  EXPECT_EQ(&imret::current_feedback(), &imret::terminal_feedback());
  {
    imret::FeedbackScope outer_scope(outer);
    {
      imret::FeedbackScope inner_scope(inner);
      EXPECT_EQ(&imret::current_feedback(), &inner);
      imret::Progress progress(given, "given", 1);
      progress.advance();
      imret::current_feedback().message("to inner");
    }
    EXPECT_EQ(&imret::current_feedback(), &outer);
    imret::current_feedback().message("to outer");
  }
  EXPECT_EQ(&imret::current_feedback(), &imret::terminal_feedback());
  EXPECT_EQ(given.events().size(), 3u);
  EXPECT_EQ(inner.messages(), std::vector<std::string>{"to inner"});
  EXPECT_EQ(outer.messages(), std::vector<std::string>{"to outer"});
  EXPECT_EQ(inner.events().size(), 1u);  // the message only
}

TEST(Feedback, ThreadsWithDifferentSinksDoNotSeeEachOthersProgress) {
  CollectingFeedback a, b;
  std::atomic<int> ready{0};
  auto job = [&ready](CollectingFeedback& sink, const std::string& label) {
    imret::FeedbackScope scope(sink);
    // Both sinks are installed before either job reports.
    ++ready;
    while (ready < 2) std::this_thread::yield();
    for (int round = 0; round < 50; ++round) {
      imret::Progress progress(label, 20, "img");
      for (int i = 0; i < 20; ++i) {
        progress.advance();
        std::this_thread::yield();
      }
      imret::current_feedback().message(label);
    }
  };
  std::thread first(job, std::ref(a), "job a");
  std::thread second(job, std::ref(b), "job b");
  first.join();
  second.join();
  for (const auto& [sink, label] : {std::pair<CollectingFeedback*, std::string>{&a, "job a"}, {&b, "job b"}}) {
    const auto events = sink->events();
    EXPECT_EQ(events.size(), 50u * (1 + 20 + 1 + 1)) << label;
    for (const auto& event : events) {
      if (event.kind == Kind::message)
        EXPECT_EQ(event.text, label);
      else
        EXPECT_EQ(event.progress.label, label);
    }
  }
  EXPECT_EQ(&imret::current_feedback(), &imret::terminal_feedback());  // this thread's is untouched
}

TEST(Feedback, TheSilentSinkPrintsNothing) {
  imret::FeedbackScope scope(imret::silent_feedback());
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  {
    imret::Progress progress("quiet", 10, "img");
    for (int i = 0; i < 10; ++i) progress.advance();
    imret::current_feedback().message("a message");
    imret::current_feedback().log(imret::LogLevel::warn, "a warning");
  }
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "");
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(std::isinf(imret::silent_feedback().update_interval()));
}

TEST(Feedback, TheTerminalSinkWritesTodaysLinesOffATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  imret::TerminalFeedback terminal({file, file, true});
  EXPECT_EQ(terminal.update_interval(), 10.0);  // not a terminal: a line every 10 s
  terminal.progress_update(update_of("embed", 50, 200, 10));
  imret::ProgressUpdate slow = update_of("detect", 3, 0, 7);
  slow.status = "cpu";
  terminal.progress_update(slow);
  terminal.progress_update(update_of("search", 1234, 0, 1));
  terminal.progress_update(update_of("train", 5, 10, 0.4));
  imret::ProgressUpdate done = update_of("embed", 200, 200, 40);
  done.status = "loss 0.5";
  terminal.progress_finished(done);
  terminal.progress_finished(update_of("index", 7200, 0, 3725));
  terminal.message("report run: plots");
  terminal.log(imret::LogLevel::warn, "a warning");
  EXPECT_EQ(contents(file),
            "embed [######..................] 50/200  25%  5.00 img/s  ETA 0:30\n"
            "detect 3 img  0.43 img/s  cpu\n"
            "search 1234 img  1234 img/s\n"
            "train [############............] 5/10  50%  12.5 img/s  ETA 0:00\n"
            "embed: 200 img in 0:40 (5.00 img/s)  loss 0.5\n"
            "index: 7200 img in 1:02:05 (1.93 img/s)\n"
            "report run: plots\n"
            "[warning] a warning\n");
  std::fclose(file);
}

TEST(Feedback, WithoutProgressTheTerminalSinkKeepsItsMessages) {
  std::FILE* progress = std::tmpfile();
  std::FILE* messages = std::tmpfile();
  imret::TerminalFeedback quiet({progress, messages, false});  // imret --quiet
  EXPECT_TRUE(std::isinf(quiet.update_interval()));
  {
    imret::Progress bar(quiet, "embed", 3, "img");
    bar.advance(3);
  }
  quiet.message("report run: maps");
  EXPECT_EQ(contents(progress), "");
  EXPECT_EQ(contents(messages), "report run: maps\n");
  std::fclose(progress);
  std::fclose(messages);
}

TEST(Feedback, AProgressOffATerminalPrintsItsFinalLine) {
  std::FILE* file = std::tmpfile();
  imret::TerminalFeedback terminal({file, file, true});
  {
    imret::Progress progress(terminal, "count", 5, "img");
    progress.advance(5);  // within 10 s of the start: no line yet
    EXPECT_EQ(contents(file), "");
  }
  const std::string text = contents(file);
  EXPECT_EQ(text.rfind("count: 5 img in 0:00 (", 0), 0u) << text;
  EXPECT_EQ(text.substr(text.size() - 8), " img/s)\n") << text;
  std::fclose(file);
}

TEST(Feedback, OnATerminalTheLineIsRedrawnInPlace) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  ASSERT_GE(master, 0);
  ASSERT_EQ(::grantpt(master), 0);
  ASSERT_EQ(::unlockpt(master), 0);
  const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  ASSERT_GE(slave, 0);
  termios raw{};
  ASSERT_EQ(::tcgetattr(slave, &raw), 0);
  ::cfmakeraw(&raw);  // no "\n" -> "\r\n"
  ASSERT_EQ(::tcsetattr(slave, TCSANOW, &raw), 0);
  std::FILE* tty = ::fdopen(slave, "w");
  imret::TerminalFeedback terminal({tty, tty, true});
  EXPECT_EQ(terminal.update_interval(), 0.2);  // 5 times a second
  terminal.progress_update(update_of("embed", 50, 200, 10));
  terminal.progress_finished(update_of("embed", 200, 200, 40));
  const std::string expected =
      "\r\033[Kembed [######..................] 50/200  25%  5.00 img/s  ETA 0:30"
      "\r\033[Kembed: 200 img in 0:40 (5.00 img/s)\n";
  std::string text;
  char buffer[256];
  while (text.size() < expected.size()) {
    const ssize_t n = ::read(master, buffer, sizeof buffer);
    ASSERT_GT(n, 0);
    text.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_EQ(text, expected);
  std::fclose(tty);
  ::close(master);
}

TEST(Feedback, TheLogSinkForwardsToTheLoggingThreadsFeedback) {
  auto logger = std::make_shared<spdlog::logger>("feedback test", imret::make_feedback_log_sink());
  logger->set_level(spdlog::level::debug);
  CollectingFeedback mine, theirs;
  {
    imret::FeedbackScope scope(mine);
    logger->warn("skipped {} images", 2);
    std::thread([&] {
      imret::FeedbackScope other(theirs);
      logger->debug("on another thread");
    }).join();
    logger->error("failed");
  }
  const auto events = mine.events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::log);
  EXPECT_EQ(events[0].level, imret::LogLevel::warn);
  EXPECT_EQ(events[0].text, "skipped 2 images");
  EXPECT_EQ(events[1].level, imret::LogLevel::error);
  EXPECT_EQ(events[1].text, "failed");
  const auto other = theirs.events();
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].level, imret::LogLevel::debug);
  EXPECT_EQ(other[0].text, "on another thread");
}
