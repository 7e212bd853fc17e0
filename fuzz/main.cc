// libFuzzer entry point; FUZZ_TARGET names the function in targets.h (set by CMake).
#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  meter::fuzz::FUZZ_TARGET(data, size);
  return 0;
}
