// track() latency with two producer threads (Google Benchmark), while the tracker's own thread
// ships the events to a real meterd (URL as the first argument, from bench/tracker.sh).
// Prints p50, p99 and p99.9 per call in nanoseconds, averaged over the producer threads.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "meter/tracker.h"

namespace {

std::string g_url = "http://127.0.0.1:8000";
std::unique_ptr<meter::Tracker> g_tracker;

void BM_Track(benchmark::State& state) {
  if (state.thread_index() == 0) {
    meter::TrackerOptions o;
    o.url = g_url;
    o.capacity = 1'000'000;
    o.batch_size = 5000;
    o.spill_path = "/tmp/meterd-tracker-bench-spill.jsonl";
    g_tracker = std::make_unique<meter::Tracker>(o);
  }
  meter::TrackedEvent event;
  event.tenant_id = "tenant_" + std::to_string(state.thread_index());
  event.event_type = "input_tokens";
  event.quantity = "1500";
  event.metadata = R"({"model":"gpt-4"})";
  std::vector<std::int64_t> ns;
  ns.reserve(2'000'000);
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    g_tracker->track(event);
    ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) { return static_cast<double>(ns[static_cast<std::size_t>(p * static_cast<double>(ns.size() - 1))]); };
  state.counters["p50_ns"] = benchmark::Counter(pct(0.50), benchmark::Counter::kAvgThreads);
  state.counters["p99_ns"] = benchmark::Counter(pct(0.99), benchmark::Counter::kAvgThreads);
  state.counters["p999_ns"] = benchmark::Counter(pct(0.999), benchmark::Counter::kAvgThreads);
  if (state.thread_index() == 0) {
    g_tracker->flush();
    g_tracker.reset();
  }
}
BENCHMARK(BM_Track)->Threads(2)->Iterations(200'000)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]).starts_with("http")) {
    g_url = argv[1];
    --argc;
    ++argv;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
