// Tracks three events to a meterd that is not there: they are spilled, and the counts say so.
#include <meter/tracker.h>

#include <cstdio>

int main(int argc, char** argv) {
  meter::TrackerOptions options;
  options.url = argc > 1 ? argv[1] : "http://127.0.0.1:9";
  options.spill_path = argc > 2 ? argv[2] : "consumer-spill.jsonl";
  meter::Tracker tracker(options);
  for (int i = 0; i < 3; ++i) tracker.track({"tenant_acme", "query", "1", "", "{}", 0});
  tracker.flush();
  std::printf("tracked %llu spilled %llu\n", static_cast<unsigned long long>(tracker.stats().tracked),
              static_cast<unsigned long long>(tracker.stats().spilled));
  return 0;
}
