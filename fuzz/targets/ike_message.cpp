// Fuzz target for the IKEv2 message codec (cgwd/ike/message.hpp).
//
// Input: one UDP payload. Checks, aborting on any violation:
//   - decode_message never crashes; if it succeeds, encode_message must succeed and the
//     re-encoded bytes must decode to an equal Message (reserved bits / minor version are the
//     only things allowed to differ on the wire);
//   - encrypted_layout agrees with the decoded message about where SK/SKF is;
//   - the same bytes fed to the inner-chain decoder (first payload type from byte 0, chain from
//     byte 1) round-trip the same way;
//   - the UDP/4500 classifier never crashes and its IKE view is a suffix of the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "cgwd/ike/codec_natt.hpp"
#include "cgwd/ike/message.hpp"
#include "targets.hpp"

namespace {

void check(bool condition) {
    if (!condition) std::abort();
}

void round_trip_message(std::span<const std::uint8_t> input) {
    auto decoded = cgwd::ike::decode_message(input);
    auto layout = cgwd::ike::encrypted_layout(input);
    if (!decoded) return;
    auto encoded = cgwd::ike::encode_message(*decoded);
    check(encoded.has_value());
    check(encoded->size() == input.size());
    auto again = cgwd::ike::decode_message(*encoded);
    check(again.has_value());
    check(*again == *decoded);

    const auto& payloads = decoded->payloads;
    const bool has_encrypted =
        !payloads.empty() && (payloads.back().type == cgwd::ike::PayloadType::sk ||
                              payloads.back().type == cgwd::ike::PayloadType::skf);
    check(layout.has_value() == has_encrypted);
    if (layout) {
        check(layout->type == payloads.back().type);
        check(layout->end == input.size());
        check(layout->payload_offset < layout->body_offset && layout->body_offset <= layout->end);
    }
}

void round_trip_inner(std::span<const std::uint8_t> input) {
    if (input.empty()) return;
    const auto first = static_cast<cgwd::ike::PayloadType>(input[0]);
    auto decoded = cgwd::ike::decode_payloads(first, input.subspan(1));
    if (!decoded) return;
    auto encoded = cgwd::ike::encode_payloads(*decoded);
    check(encoded.has_value());
    check(encoded->size() == input.size() - 1);
    const auto again_first = decoded->empty() ? cgwd::ike::PayloadType::none : first;
    auto again = cgwd::ike::decode_payloads(again_first, *encoded);
    check(again.has_value());
    check(*again == *decoded);
}

}  // namespace

int cgwd::fuzz::fuzz_ike_message(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    round_trip_message(input);
    round_trip_inner(input);
    const auto udp = cgwd::ike::classify_udp4500(input);
    if (udp.kind == cgwd::ike::Udp4500Kind::ike) {
        check(udp.data.size() + cgwd::ike::non_esp_marker_size == size);
        round_trip_message(udp.data);
    }
    return 0;
}
