// libFuzzer entry point of the offload target; its body, and what it covers, is in
// fuzz/targets/offload.cpp (shared with the corpus replay test, fuzz/replay.cpp).
#include <cstddef>
#include <cstdint>

#include "targets/targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return cgwd::fuzz::fuzz_offload(data, size);
}
