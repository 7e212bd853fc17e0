// track() latency with two producer threads (Google Benchmark), while the tracker's own thread
// ships the events to a real meterd (URL as the first argument, from bench/tracker.sh).
// Prints p50, p99, p99.9 and the largest call in nanoseconds, averaged over the producer threads.
//
// BM_TrackPaced: each producer tracks at a fixed rate (the argument, events/s per thread) and
// spins between calls, like a service doing a request's work: the steady state, where meterd
// keeps up. BM_TrackBurst: both producers call track() back to back, about twenty times faster
// than meterd can store, so the buffer only grows: the cost of a burst.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "meter/tracker.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string g_url = "http://127.0.0.1:8000";
std::unique_ptr<meter::Tracker> g_tracker;

meter::TrackedEvent sample_event(int thread) {
  meter::TrackedEvent event;
  event.tenant_id = "tenant_" + std::to_string(thread);
  event.event_type = "input_tokens";
  event.quantity = "1500";
  event.metadata = R"({"model":"gpt-4"})";
  return event;
}

void start_tracker(benchmark::State& state) {
  if (state.thread_index() != 0) return;
  meter::TrackerOptions o;
  o.url = g_url;
  o.capacity = 1'000'000;
  o.batch_size = 5000;
  o.spill_path = "/tmp/meterd-tracker-bench-spill.jsonl";
  g_tracker = std::make_unique<meter::Tracker>(o);
}

void report(benchmark::State& state, std::vector<std::int64_t>& ns) {
  std::sort(ns.begin(), ns.end());
  auto pct = [&](double p) {
    return static_cast<double>(ns[static_cast<std::size_t>(p * static_cast<double>(ns.size() - 1))]);
  };
  state.counters["p50_ns"] = benchmark::Counter(pct(0.50), benchmark::Counter::kAvgThreads);
  state.counters["p99_ns"] = benchmark::Counter(pct(0.99), benchmark::Counter::kAvgThreads);
  state.counters["p999_ns"] = benchmark::Counter(pct(0.999), benchmark::Counter::kAvgThreads);
  state.counters["max_ns"] =
      benchmark::Counter(static_cast<double>(ns.back()), benchmark::Counter::kAvgThreads);
  if (state.thread_index() == 0) {
    g_tracker->flush();
    state.counters["sent"] = static_cast<double>(g_tracker->stats().sent);
    g_tracker.reset();
  }
}

std::int64_t timed_track(const meter::TrackedEvent& event) {
  auto start = Clock::now();
  g_tracker->track(event);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
}

void BM_TrackPaced(benchmark::State& state) {
  start_tracker(state);
  const auto event = sample_event(state.thread_index());
  const auto interval = std::chrono::nanoseconds(1'000'000'000 / state.range(0));
  std::vector<std::int64_t> ns;
  ns.reserve(static_cast<std::size_t>(state.max_iterations));
  auto next = Clock::now();
  for (auto _ : state) {
    while (Clock::now() < next) {
    }
    next += interval;
    ns.push_back(timed_track(event));
  }
  report(state, ns);
}
BENCHMARK(BM_TrackPaced)->Threads(2)->Arg(10'000)->Iterations(50'000)->UseRealTime();
BENCHMARK(BM_TrackPaced)->Threads(2)->Arg(50'000)->Iterations(200'000)->UseRealTime();

void BM_TrackBurst(benchmark::State& state) {
  start_tracker(state);
  const auto event = sample_event(state.thread_index());
  std::vector<std::int64_t> ns;
  ns.reserve(static_cast<std::size_t>(state.max_iterations));
  for (auto _ : state) ns.push_back(timed_track(event));
  report(state, ns);
}
BENCHMARK(BM_TrackBurst)->Threads(2)->Iterations(200'000)->UseRealTime();

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
