// libFuzzer entry point of the rib target; its body, and what it covers, is in
// fuzz/targets/rib.cpp (shared with the corpus replay test, fuzz/replay.cpp).
#include <cstddef>
#include <cstdint>

#include "targets/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return cgwd::fuzz::fuzz_rib(data, size);
}
