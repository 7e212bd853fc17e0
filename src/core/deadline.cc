#include "core/deadline.h"

#include <algorithm>

namespace meter {
namespace {
thread_local const Deadline* t_current = nullptr;
}  // namespace

std::chrono::milliseconds Deadline::remaining() const {
  auto left = std::chrono::nanoseconds(at_ns_.load(std::memory_order_relaxed) -
                                       Clock::now().time_since_epoch().count());
  return std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(left));
}

const Deadline* Deadline::current() { return t_current; }

Deadline::Scope::Scope(const Deadline& deadline) : previous_(t_current) { t_current = &deadline; }
Deadline::Scope::~Scope() { t_current = previous_; }

std::chrono::milliseconds time_left(std::chrono::milliseconds limit) {
  const Deadline* d = Deadline::current();
  return d == nullptr ? limit : std::min(limit, d->remaining());
}

}  // namespace meter
