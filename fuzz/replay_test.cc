// Replays every file of fuzz/corpus and fuzz/regressions through its fuzz target, so inputs
// that once crashed stay fixed and the seed corpus runs under the sanitizers with `make test`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz/targets.h"

namespace meter::fuzz {
namespace {

void replay(const std::string& name, void (*target)(const std::uint8_t*, std::size_t)) {
  int files = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    std::filesystem::path dir = std::filesystem::path(METER_FUZZ_DIR) / kind / name;
    if (!std::filesystem::exists(dir)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      SCOPED_TRACE(entry.path().string());
      target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++files;
    }
  }
  EXPECT_GT(files, 0) << "no inputs for " << name;
}

// Verifies every saved event/NDJSON input parses without crashing or breaking invariants.
TEST(FuzzReplay, EventJson) { replay("event_json", event_json); }
// Verifies every saved CloudEvent input (JSON format, batch, binary-mode body).
TEST(FuzzReplay, CloudEvent) { replay("cloud_event", cloud_event); }
// Verifies every saved decimal input.
TEST(FuzzReplay, Decimal) { replay("decimal", decimal); }
// Verifies every saved config input.
TEST(FuzzReplay, Config) { replay("config", config); }
// Verifies every saved HTTP request input.
TEST(FuzzReplay, HttpRequest) { replay("http_request", http_request); }
// Verifies every saved query string input.
TEST(FuzzReplay, QueryString) { replay("query_string", query_string); }

}  // namespace
}  // namespace meter::fuzz
