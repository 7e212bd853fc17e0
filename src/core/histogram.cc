#include "core/histogram.h"

#include <fmt/format.h>

namespace meter {
namespace {

// Microseconds as seconds, exactly: 2500 -> "0.0025".
std::string seconds(std::int64_t micros) {
  std::string text = fmt::format("{}.{:06}", micros / 1'000'000, micros % 1'000'000);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    std::string le = i < kBoundsMicros.size() ? seconds(kBoundsMicros[i]) : "+Inf";
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{}le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  std::string plain(labels);
  if (!plain.empty()) plain.pop_back();  // the trailing comma
  std::string braces = plain.empty() ? "" : "{" + plain + "}";
  fmt::format_to(std::back_inserter(out), "{}_sum{} {}\n{}_count{} {}\n", name, braces,
                 seconds(sum_micros_.load(std::memory_order_relaxed)), name, braces, cumulative);
}

}  // namespace meter
