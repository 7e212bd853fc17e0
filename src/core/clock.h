#pragma once

#include <atomic>

#include "core/time.h"

namespace meter {

// Where "now" comes from. Injected everywhere time matters, so tests run in simulated time.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
};

// A clock that moves only when told to. For tests.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(Timestamp start) : ms_(to_unix_ms(start)) {}
  Timestamp now() const override { return from_unix_ms(ms_.load()); }
  void set(Timestamp t) { ms_.store(to_unix_ms(t)); }
  void advance(std::chrono::milliseconds d) { ms_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace meter
