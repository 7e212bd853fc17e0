#include "server/read_pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>

#include "core/deadline.h"
#include "server/problem.h"

namespace meter::server {

// One request: answered exactly once, by the job or, past the deadline, by the watchdog.
struct ReadPool::Task {
  Task(std::string who, Job j, Responder r, Deadline::Clock::time_point at)
      : caller(std::move(who)), job(std::move(j)), respond(std::move(r)), deadline(at) {}

  bool claim_answer() { return !answered.exchange(true); }

  std::string caller;
  Job job;
  Responder respond;
  Deadline deadline;
  std::atomic<bool> answered{false};
};

namespace {

HttpResponse unavailable(int status, std::string_view detail, int retry_after) {
  HttpResponse r = problem(status, status_title(status), detail);
  r.headers.emplace_back("Retry-After", std::to_string(retry_after));
  return r;
}

}  // namespace

ReadPool::ReadPool(ReadPoolOptions options) : options_(options) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { work(); });
  watchdog_ = std::thread([this] { watch(); });
}

ReadPool::~ReadPool() { stop(); }

void ReadPool::submit(std::string caller, Job job, Responder respond) {
  MutexLock lock(mutex_);
  const char* refusal = nullptr;
  auto share = per_caller_.find(caller);
  if (stopping_) {
    refusal = "meterd is shutting down; retry against another node or later";
  } else if (share != per_caller_.end() && share->second.queued >= options_.max_queued_per_caller) {
    refusal = "too many of your reads are waiting; retry when they have answered";
  } else if (queue_.size() >= options_.max_queued) {
    refusal = "too many reads are waiting; retry shortly";
  }
  if (refusal != nullptr) {
    ++refused_;
    lock.unlock();
    return respond(unavailable(503, refusal, 1));
  }
  ++per_caller_[caller].queued;
  queue_.push_back(std::make_shared<Task>(std::move(caller), std::move(job), std::move(respond),
                                          Deadline::Clock::now() + options_.deadline));
  lock.unlock();
  wake_.notify_one();
}

std::shared_ptr<ReadPool::Task> ReadPool::take_runnable() {
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    Share& share = per_caller_[(*it)->caller];
    if (share.running >= options_.max_running_per_caller) continue;
    auto task = std::move(*it);
    queue_.erase(it);
    --share.queued;
    ++share.running;
    running_.push_back(task);
    return task;
  }
  return nullptr;
}

void ReadPool::work() {
  for (;;) {
    std::shared_ptr<Task> task;
    {
      MutexLock lock(mutex_);
      while (!stopping_ && (task = take_runnable()) == nullptr) wake_.wait(mutex_);
      if (!task) return;  // stopping; cancel() answered what was queued
    }
    if (!task->deadline.passed()) {
      // The job answers through a responder that gives way to the watchdog's 504.
      Responder once([task](Responder::Builder build) {
        if (task->claim_answer()) task->respond.later(std::move(build));
      });
      Deadline::Scope scope(task->deadline);
      task->job(once);
    }
    if (task->claim_answer()) {  // a job that forgot to answer
      task->respond(unavailable(503, "the read was not answered; retry", 1));
    }
    finish(task);
  }
}

void ReadPool::finish(const std::shared_ptr<Task>& task) {
  {
    MutexLock lock(mutex_);
    running_.erase(std::find(running_.begin(), running_.end(), task));
    Share& share = per_caller_[task->caller];
    --share.running;
    if (share.running == 0 && share.queued == 0) per_caller_.erase(task->caller);
  }
  wake_.notify_all();  // a job of this caller held back in the queue may run now
}

void ReadPool::watch() {
  MutexLock lock(mutex_);
  while (!stopping_) {
    watch_wake_.wait_for(mutex_, std::chrono::milliseconds(20));
    std::vector<std::shared_ptr<Task>> late;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (!(*it)->deadline.passed()) {
        ++it;
        continue;
      }
      Share& share = per_caller_[(*it)->caller];
      if (--share.queued == 0 && share.running == 0) per_caller_.erase((*it)->caller);
      late.push_back(std::move(*it));
      it = queue_.erase(it);
    }
    for (auto& t : running_)
      if (t->deadline.passed()) late.push_back(t);
    if (stopping_) break;  // cancel() answers what is left
    lock.unlock();
    for (auto& t : late) {
      if (!t->claim_answer()) continue;
      {
        MutexLock count(mutex_);
        ++timed_out_;
      }
      t->respond(
          unavailable(504,
                      fmt::format("the read did not finish within {} ms (server.read_deadline_seconds); "
                                  "narrow the query or retry later",
                                  options_.deadline.count()),
                      5));
    }
    lock.lock();
  }
}

void ReadPool::cancel() {
  std::deque<std::shared_ptr<Task>> unanswered;
  {
    MutexLock lock(mutex_);
    stopping_ = true;
    unanswered.swap(queue_);
    for (auto& t : running_) {
      unanswered.push_back(t);
      t->deadline.cancel();
    }
  }
  wake_.notify_all();
  watch_wake_.notify_all();
  for (auto& t : unanswered) {
    if (t->claim_answer())
      t->respond(unavailable(503, "meterd is shutting down; retry against another node or later", 1));
  }
}

void ReadPool::stop() {
  cancel();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (watchdog_.joinable()) watchdog_.join();
}

ReadPool::Stats ReadPool::stats() const {
  MutexLock lock(mutex_);
  return {queue_.size(), running_.size(), timed_out_, refused_};
}

}  // namespace meter::server
