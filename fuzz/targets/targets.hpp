// The fuzz targets' bodies, one function per target, shared by the libFuzzer entry points
// (fuzz/<name>_fuzz.cpp, clang fuzz tree) and the corpus replay test (fuzz/replay.cpp, the
// normal GCC trees). Each takes one input, returns 0, and aborts (std::abort / __builtin_trap)
// when a checked property does not hold; sanitizers report memory errors on their own.
// What each target covers and how its input is laid out: the comment at the top of
// fuzz/targets/<name>.cpp and docs/fuzzing.md.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cgwd::fuzz {

int fuzz_ike_message(const std::uint8_t* data, std::size_t size);
int fuzz_ike_responder(const std::uint8_t* data, std::size_t size);
int fuzz_bgp_message(const std::uint8_t* data, std::size_t size);
int fuzz_bfd(const std::uint8_t* data, std::size_t size);
int fuzz_esp_decap(const std::uint8_t* data, std::size_t size);
int fuzz_netlink(const std::uint8_t* data, std::size_t size);
int fuzz_config_aws(const std::uint8_t* data, std::size_t size);
int fuzz_config_toml(const std::uint8_t* data, std::size_t size);
int fuzz_control(const std::uint8_t* data, std::size_t size);
int fuzz_offload(const std::uint8_t* data, std::size_t size);
int fuzz_rib(const std::uint8_t* data, std::size_t size);

}  // namespace cgwd::fuzz
