#include "server/read_pool.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "core/deadline.h"

namespace meter::server {
namespace {

// Collects one response per request, from whichever thread answers.
struct Answers {
  std::mutex mutex;
  std::vector<int> statuses;
  std::condition_variable changed;
  Responder responder() {
    return Responder([this](Responder::Builder build) {
      int status = build().status;
      std::lock_guard lock(mutex);
      statuses.push_back(status);
      changed.notify_all();
    });
  }
  std::vector<int> wait_for(std::size_t n) {
    std::unique_lock lock(mutex);
    changed.wait_for(lock, std::chrono::seconds(10), [&] { return statuses.size() >= n; });
    return statuses;
  }
};

// Verifies a job past its deadline is answered 504 while it still runs, and that the job sees
// its deadline pass (so SQLite and curl stop), its late answer dropped.
TEST(ReadPool, AnswersGatewayTimeoutAtTheDeadline) {
  ReadPoolOptions options;
  options.deadline = std::chrono::milliseconds(100);
  ReadPool pool(options);
  Answers answers;
  std::promise<bool> saw_deadline;
  pool.submit(
      "tenant:a",
      [&](Responder& r) {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));  // a call that ignores its deadline
        saw_deadline.set_value(deadline_passed());
        r(HttpResponse{});  // too late: dropped
      },
      answers.responder());
  EXPECT_TRUE(saw_deadline.get_future().get());
  EXPECT_EQ(answers.wait_for(1), std::vector<int>{504});
  pool.stop();  // joins the job: its late answer has been dropped by now
  std::lock_guard lock(answers.mutex);
  EXPECT_EQ(answers.statuses.size(), 1u);
}

// Verifies one caller holds at most its share of threads: another caller's job runs while the
// first caller's jobs are stuck, and the first caller's extra jobs wait.
TEST(ReadPool, OneCallerCannotTakeEveryThread) {
  ReadPoolOptions options;
  options.threads = 3;
  options.max_running_per_caller = 2;
  options.deadline = std::chrono::seconds(5);
  ReadPool pool(options);
  Answers answers;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  for (int i = 0; i < 4; ++i) {
    pool.submit(
        "tenant:hog",
        [released](Responder& r) {
          released.wait();
          r(HttpResponse{});
        },
        answers.responder());
  }
  std::promise<void> other_ran;
  pool.submit(
      "tenant:b",
      [&](Responder& r) {
        other_ran.set_value();
        r(HttpResponse{});
      },
      answers.responder());
  EXPECT_EQ(other_ran.get_future().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(answers.wait_for(1), std::vector<int>{200});
  release.set_value();
  EXPECT_EQ(answers.wait_for(5).size(), 5u);
}

// Verifies a caller's queue is bounded (503 beyond), and stop() answers what waits with 503.
TEST(ReadPool, BoundsQueuesAndAnswersAtStop) {
  ReadPoolOptions options;
  options.threads = 1;
  options.max_running_per_caller = 1;
  options.max_queued_per_caller = 2;
  ReadPool pool(options);
  Answers answers;
  std::promise<void> started;
  pool.submit(
      "tenant:a",
      [&](Responder& r) {
        started.set_value();
        while (!deadline_passed())
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // until cancelled
        HttpResponse cancelled;
        cancelled.status = 503;
        r(std::move(cancelled));
      },
      answers.responder());
  started.get_future().wait();
  for (int i = 0; i < 3; ++i)
    pool.submit(
        "tenant:a", [](Responder& r) { r(HttpResponse{}); }, answers.responder());
  EXPECT_EQ(answers.wait_for(1), std::vector<int>{503});  // the third queued one: over its queue
  pool.stop();
  auto all = answers.wait_for(4);
  ASSERT_EQ(all.size(), 4u);
  for (int s : all) EXPECT_EQ(s, 503);
}

}  // namespace
}  // namespace meter::server
