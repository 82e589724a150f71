// Fuzz target: ESP decapsulation (dataplane/esp.hpp) of arbitrary bytes with fixed keys.
//
// Input: byte 0 picks the transform (bit 0: AES-GCM-16-128, else AES-CBC-128 with
// HMAC-SHA2-256-128; bit 1: ESN; bit 2 set: packets keep their own SPI, otherwise it is forced
// to the SA's so the fuzzer reaches replay, ICV and trailer handling). The rest is a sequence of
// packets, each a 2-byte big-endian length and that many bytes (the last one takes what is
// left), all decapsulated by one fresh inbound SA, so the replay window sees several packets.
// Checks: the inner packet fits the output buffer; no sequence number is accepted twice
// (RFC 4303 section 3.4.3). Seeds (fuzz/make_seeds.cpp) are packets our own outbound EspSa
// encapsulated with the same keys, so they pass the ICV check.
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "cgwd/dataplane/esp.hpp"
#include "fixtures.hpp"
#include "targets.hpp"

using cgwd::dataplane::EspSa;

int cgwd::fuzz::fuzz_esp_decap(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const unsigned pick = data[0];
    auto sa = EspSa::create(esp_fuzz_inbound((pick & 1u) != 0, (pick & 2u) != 0));
    if (!sa) __builtin_trap();
    std::set<std::uint64_t> accepted;
    std::size_t off = 1;
    for (int n = 0; off < size && n < 64; ++n) {
        const auto record = next_record(data, size, off);
        std::vector<std::uint8_t> packet(record.begin(), record.end());
        if (packet.size() >= 4 && (pick & 4u) == 0) {
            packet[0] = static_cast<std::uint8_t>(esp_fuzz_spi >> 24);
            packet[1] = static_cast<std::uint8_t>(esp_fuzz_spi >> 16);
            packet[2] = static_cast<std::uint8_t>(esp_fuzz_spi >> 8);
            packet[3] = static_cast<std::uint8_t>(esp_fuzz_spi);
        }
        std::vector<std::uint8_t> out(packet.size());
        auto result = sa->decapsulate(packet, out);
        if (!result) continue;
        if (result->length > out.size()) __builtin_trap();
        if (!accepted.insert(result->seq).second) __builtin_trap();  // replayed packet accepted
    }
    return 0;
}
