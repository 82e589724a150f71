// BGP UPDATE message codec with RFC 7606 revised error handling.
//
// RFC 4271 section 4.3 (layout), RFC 4760 (multiprotocol NLRI), RFC 7606 (dispositions),
// RFC 4724 section 2 (End-of-RIB marker).
//
//   +-----------------------------------------------------+
//   |   Withdrawn Routes Length (2 octets)                |
//   +-----------------------------------------------------+
//   |   Withdrawn Routes (variable)                       |
//   +-----------------------------------------------------+
//   |   Total Path Attribute Length (2 octets)            |
//   +-----------------------------------------------------+
//   |   Path Attributes (variable)                        |
//   +-----------------------------------------------------+
//   |   Network Layer Reachability Information (variable) |
//   +-----------------------------------------------------+
//
// decode_update returns either an Update (possibly with attribute-discard / treat-as-withdraw
// findings in `errors`) or a SessionReset carrying the NOTIFICATION to send.
#pragma once

#include <expected>
#include <optional>
#include <vector>

#include "cgwd/bgp/attributes.hpp"

namespace cgwd::bgp {

struct Update {
    std::vector<Prefix> withdrawn;  // IPv4 Withdrawn Routes field
    PathAttributes attributes;
    std::vector<Prefix> nlri;         // IPv4 NLRI field
    std::vector<UpdateError> errors;  // decode only: weaker-than-reset findings, in wire order

    // Strongest finding (RFC 7606 section 3(h)); Severity::None when there is none.
    [[nodiscard]] Severity disposition() const;
    [[nodiscard]] bool treat_as_withdraw() const { return disposition() == Severity::Withdraw; }
    // Prefixes to remove: Withdrawn Routes, MP_UNREACH_NLRI and, under treat-as-withdraw, the
    // reachable NLRI as well (RFC 7606 section 2).
    [[nodiscard]] std::vector<Prefix> routes_withdrawn() const;
    // Prefixes to install: NLRI and MP_REACH_NLRI; empty under treat-as-withdraw.
    [[nodiscard]] std::vector<Prefix> routes_announced() const;
    // RFC 4724 section 2: the End-of-RIB marker for IPv4 (empty UPDATE) or another family
    // (an UPDATE holding only an empty MP_UNREACH_NLRI).
    [[nodiscard]] std::optional<AfiSafi> end_of_rib() const;
};

[[nodiscard]] std::expected<Update, SessionReset> decode_update(ByteView body,
                                                                const UpdateContext& ctx);
// Whole message, header included; nullopt when it would exceed 4096 octets.
[[nodiscard]] std::optional<Bytes> encode_update(const Update& update, const UpdateContext& ctx);
[[nodiscard]] Bytes encode_end_of_rib(AfiSafi af);

}  // namespace cgwd::bgp
