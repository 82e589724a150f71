// libFuzzer target: ESP decapsulation (dataplane/esp.hpp) of arbitrary bytes with fixed SAs.
//
// The first input byte picks the transform (AES-GCM-128 or AES-CBC-128/HMAC-SHA2-256-128, with
// or without ESN); the rest is the packet. The SPI of the packet is forced to the SA's so the
// fuzzer reaches replay, ICV and trailer handling. Build, e.g.:
//   clang++ -std=c++2b -g -O1 -fsanitize=fuzzer,address,undefined -Idataplane/include
//     -Iconfig/include fuzz/esp_decap_fuzz.cpp dataplane/src/*.cpp config/src/net.cpp
//     config/src/secret.cpp -lcrypto -o esp_decap_fuzz
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

#include "cgwd/dataplane/esp.hpp"

namespace {

using cgwd::dataplane::Direction;
using cgwd::dataplane::EspSa;
using cgwd::dataplane::KeyBytes;
using cgwd::dataplane::SaConfig;
namespace cfg = cgwd::config;

constexpr std::uint32_t fuzz_spi = 0x00001234;

SaConfig make_config(bool gcm, bool esn) {
    static const std::array<std::uint8_t, 20> enc{1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                  11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
    static const std::array<std::uint8_t, 32> integ{0x0b};
    SaConfig sa;
    sa.direction = Direction::inbound;
    sa.spi = fuzz_spi;
    sa.esn = esn;
    sa.replay_window = 128;
    if (gcm) {
        sa.cipher = {cfg::encr::aes_gcm_16, 128};
        sa.enc_key = KeyBytes(enc);
    } else {
        sa.cipher = {cfg::encr::aes_cbc, 128};
        sa.integ = cfg::integ::hmac_sha2_256_128;
        sa.enc_key = KeyBytes(std::span(enc).first(16));
        sa.integ_key = KeyBytes(integ);
    }
    return sa;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // SAs are created once (as in the dataplane) and keep replay state across inputs.
    static std::array<std::optional<EspSa>, 4> sas;
    if (size < 1) return 0;
    const unsigned pick = data[0] & 3u;
    if (!sas[pick]) {
        auto sa = EspSa::create(make_config((pick & 1u) != 0, (pick & 2u) != 0));
        if (!sa) __builtin_trap();
        sas[pick].emplace(std::move(*sa));
    }
    std::vector<std::uint8_t> packet(data + 1, data + size);
    if (packet.size() >= 4 && (data[0] & 4u) == 0) {
        packet[0] = 0x00;
        packet[1] = 0x00;
        packet[2] = 0x12;
        packet[3] = 0x34;
    }
    std::vector<std::uint8_t> out(packet.size());
    auto result = sas[pick]->decapsulate(packet, out);
    if (result && result->length > out.size()) __builtin_trap();
    return 0;
}
