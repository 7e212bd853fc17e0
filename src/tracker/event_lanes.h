#pragma once

// Events waiting in meter::Tracker, packed as bytes in one lane per producer thread. A lane's
// buffer keeps its memory from batch to batch and the sender touches the pages of a buffer
// before handing it back, so a steady track() neither allocates nor page-faults, and two
// producers never wait for each other (each has its own lane and lock).

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/sync.h"

namespace meter {

// One event as stored in a lane; the views point into the lane's buffer.
struct PackedEvent {
  std::string_view id, tenant_id, event_type, quantity, metadata;
  std::int64_t timestamp_ms = 0;
};

class EventLanes {
 public:
  // Appends to the calling thread's lane. Any thread.
  void append(const PackedEvent& event);

  // Hands every event appended so far to `visit`, lane by lane, then returns how many there
  // were. One thread at a time (the sender); appends go on meanwhile.
  std::size_t drain(const std::function<void(const PackedEvent&)>& visit);

  // Events appended since construction. Any thread.
  std::uint64_t appended();

 private:
  static constexpr std::size_t kLanes = 16;
  struct alignas(64) Lane {
    Mutex mutex;
    std::string filling ABSL_GUARDED_BY(mutex);
    std::uint64_t appended ABSL_GUARDED_BY(mutex) = 0;
    std::string draining;  // the sender's
  };
  std::array<Lane, kLanes> lanes_;
};

}  // namespace meter
