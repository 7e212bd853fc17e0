#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/sync.h"
#include "server/http_types.h"

namespace meter::server {

struct ReadPoolOptions {
  int threads = 4;
  std::size_t max_queued = 256;                                  // waiting jobs, all callers together
  std::size_t max_running_per_caller = 2;                        // threads one caller's jobs may hold at once
  std::size_t max_queued_per_caller = 16;                        // one caller's jobs waiting
  std::chrono::milliseconds deadline = std::chrono::seconds(5);  // from submission to answer
};

// Runs requests that read a store (SQLite or ClickHouse, which may be slow or hung) off the
// HTTP event loop, so that nothing a read does can delay another request on the same thread.
//
// Costs are bounded per caller (a tenant, usually): at most max_running_per_caller of its jobs
// run at once, so one tenant's slow queries hold at most that share of the threads while other
// callers' jobs pass theirs in the queue; at most max_queued_per_caller wait. A job runs under
// a Deadline (core/deadline.h) that SQLite reads and ClickHouse calls obey; if it has not answered
// by then, the caller gets 504 with Retry-After and the job's late answer is dropped. A full pool
// answers 503 at once. stop() answers every unanswered job 503, cancels the running ones and
// joins its threads (the pool owns them: started by the constructor). Thread-safe.
class ReadPool {
 public:
  using Job = std::move_only_function<void(Responder&)>;

  explicit ReadPool(ReadPoolOptions options);
  ~ReadPool();

  void submit(std::string caller, Job job, Responder respond);
  // Answers every unanswered job 503 at once, cancels the running ones (their reads stop), and
  // does not wait for them: safe on an HTTP thread. Later submits are refused.
  void cancel();
  // cancel(), then joins the threads.
  void stop();

  struct Stats {
    std::size_t queued = 0, running = 0;
    std::uint64_t timed_out = 0, refused = 0;
  };
  Stats stats() const;

 private:
  struct Task;
  void work();
  void watch();
  void finish(const std::shared_ptr<Task>& task);
  std::shared_ptr<Task> take_runnable() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  ReadPoolOptions options_;
  mutable Mutex mutex_;
  CondVar wake_;
  CondVar watch_wake_;
  std::deque<std::shared_ptr<Task>> queue_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::shared_ptr<Task>> running_ ABSL_GUARDED_BY(mutex_);
  struct Share {
    std::size_t queued = 0, running = 0;
  };
  std::unordered_map<std::string, Share> per_caller_ ABSL_GUARDED_BY(mutex_);
  std::uint64_t timed_out_ ABSL_GUARDED_BY(mutex_) = 0;
  std::uint64_t refused_ ABSL_GUARDED_BY(mutex_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mutex_) = false;
  std::vector<std::thread> threads_;
  std::thread watchdog_;
};

}  // namespace meter::server
