#pragma once

#include <cstddef>
#include <cstdint>

namespace meter::fuzz {

// One fuzz input each. They must never crash, hang or trip a sanitizer, whatever the bytes;
// they also check invariants that must hold for every accepted input. Shared by the libFuzzer
// binaries (make fuzz) and by the regression test that replays fuzz/corpus and fuzz/regressions.
void event_json(const std::uint8_t* data, std::size_t size);
void cloud_event(const std::uint8_t* data, std::size_t size);
void decimal(const std::uint8_t* data, std::size_t size);
void config(const std::uint8_t* data, std::size_t size);
void http_request(const std::uint8_t* data, std::size_t size);
void query_string(const std::uint8_t* data, std::size_t size);

}  // namespace meter::fuzz
