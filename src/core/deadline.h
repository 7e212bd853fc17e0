#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace meter {

// How long the work a thread is doing now may still take. A request served off the event loop
// (server/read_pool.h) runs under one; slow calls below it look it up instead of taking a
// parameter through every layer: SQLite reads stop with SQLITE_INTERRUPT past it, HTTP calls to
// ClickHouse shorten their timeout to it. cancel() may be called from any thread (at shutdown,
// or when the request's answer was already given).
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Deadline(Clock::time_point at) : at_ns_(at.time_since_epoch().count()) {}

  bool passed() const {
    return Clock::now().time_since_epoch().count() >= at_ns_.load(std::memory_order_relaxed);
  }
  std::chrono::milliseconds remaining() const;
  void cancel() { at_ns_.store(0, std::memory_order_relaxed); }
  // Moves the deadline to `at` if that is earlier.
  void tighten(Clock::time_point at) {
    auto want = at.time_since_epoch().count();
    auto have = at_ns_.load(std::memory_order_relaxed);
    while (want < have && !at_ns_.compare_exchange_weak(have, want, std::memory_order_relaxed)) {
    }
  }

  // The deadline of the calling thread's current work, or null when it has none.
  static const Deadline* current();

  // Makes `deadline` the calling thread's for the scope's life (it must outlive the scope).
  class Scope {
   public:
    explicit Scope(const Deadline& deadline);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    const Deadline* previous_;
  };

 private:
  std::atomic<Clock::rep> at_ns_;
};

// True when the calling thread's work is past its deadline (false when it has none).
inline bool deadline_passed() {
  const Deadline* d = Deadline::current();
  return d != nullptr && d->passed();
}

// The calling thread's remaining time, capped at `limit`; `limit` when it has no deadline.
std::chrono::milliseconds time_left(std::chrono::milliseconds limit);

}  // namespace meter
