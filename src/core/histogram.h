#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace meter {

// A latency histogram for /metrics: fixed buckets from 100 µs to 10 s, lock-free observe()
// from any thread. Rendered in Prometheus' text format (seconds, cumulative buckets).
class Histogram {
 public:
  static constexpr std::array<std::int64_t, 12> kBoundsMicros = {
      100, 250, 500, 1'000, 2'500, 5'000, 10'000, 25'000, 100'000, 500'000, 1'000'000, 10'000'000};

  void observe(std::chrono::nanoseconds elapsed) {
    std::int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    std::size_t i = 0;
    while (i < kBoundsMicros.size() && us > kBoundsMicros[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(us, std::memory_order_relaxed);
  }

  // Appends the _bucket, _sum and _count lines of `name`; `labels` is "" or `route="/x",`.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBoundsMicros.size() + 1> buckets_{};  // the last: above all
  std::atomic<std::int64_t> sum_micros_{0};
};

}  // namespace meter
