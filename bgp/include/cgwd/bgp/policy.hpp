// BGP routing policy: prefix lists and the per-peer import / export policies the RIB applies.
//
// Prefix lists use the usual ge/le semantics: an entry `P/len [ge G] [le L]` matches a prefix
// covered by P/len whose own length lies in [G or len, L or (G ? max : len)]; without ge/le only
// P/len itself matches. Entries are tried in order, the first match decides permit / deny, and a
// prefix that matches nothing is denied. An absent prefix list permits everything.
//
// RFC 8212: an eBGP peer whose import (export) policy is not configured at all (std::nullopt in
// PeerConfig) accepts (advertises) nothing; the RIB enforces that. Max-prefix actions follow
// RFC 4486 (Cease subcode 1, "Maximum Number of Prefixes Reached", data = AFI, SAFI, limit).
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cgwd/bgp/attributes.hpp"
#include "cgwd/bgp/prefix.hpp"

namespace cgwd::bgp {

// An IPv4 or IPv6 address (peer address, next hop, local address).
struct IpAddress {
    Afi afi = Afi::Ipv4;
    std::array<std::uint8_t, 16> bytes{};  // network order; first 4 used for IPv4

    static IpAddress v4(std::uint32_t host_order);
    static IpAddress v6(const std::array<std::uint8_t, 16>& b);
    [[nodiscard]] std::uint32_t v4_host_order() const;
    [[nodiscard]] std::string to_string() const;
    friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct PrefixListEntry {
    bool permit = true;
    Prefix prefix;
    std::optional<std::uint8_t> ge;
    std::optional<std::uint8_t> le;

    [[nodiscard]] bool matches(const Prefix& p) const;
};

struct PrefixListPolicy {
    std::vector<PrefixListEntry> entries;
    // First matching entry decides; no match denies.
    [[nodiscard]] bool permits(const Prefix& p) const;
};

enum class MaxPrefixAction : std::uint8_t {
    Warn,        // accept everything, report once when the limit is crossed
    DropExcess,  // accept up to the limit, drop (and report) new prefixes beyond it
    Reset,       // close the session with Cease / Maximum Number of Prefixes Reached
};

struct MaxPrefix {
    std::uint32_t limit = 0;
    MaxPrefixAction action = MaxPrefixAction::Warn;
};

struct ImportPolicy {
    std::optional<PrefixListPolicy> prefix_list;  // nullopt: permit all
    std::optional<std::uint32_t> local_pref;      // set LOCAL_PREF on accepted routes
    std::optional<MaxPrefix> max_prefix;
};

struct ExportPolicy {
    std::optional<PrefixListPolicy> prefix_list;    // nullopt: permit all
    std::uint8_t as_path_prepend = 0;               // extra copies of the local AS (eBGP only)
    std::optional<std::uint32_t> med;               // set MULTI_EXIT_DISC
    std::vector<std::uint32_t> communities;         // added (RFC 1997)
    std::vector<LargeCommunity> large_communities;  // added (RFC 8092)
    // At most this many prefixes advertised; the (limit+1)th and later are held back.
    std::optional<std::uint32_t> max_prefix_out;
};

// Text forms: "192.0.2.1", "2001:db8::1", "10.0.0.0/16", "2001:db8::/32". A prefix with host
// bits set is refused.
[[nodiscard]] std::optional<IpAddress> parse_address(std::string_view text);
[[nodiscard]] std::optional<Prefix> parse_prefix(std::string_view text);

// RFC 1997 well-known communities.
inline constexpr std::uint32_t kNoExport = 0xFFFFFF01;
inline constexpr std::uint32_t kNoAdvertise = 0xFFFFFF02;

// RFC 4486 section 4: Cease / Maximum Number of Prefixes Reached, data AFI (2), SAFI (1),
// upper bound (4).
[[nodiscard]] Notification make_max_prefix_notification(AfiSafi af, std::uint32_t limit);

}  // namespace cgwd::bgp
