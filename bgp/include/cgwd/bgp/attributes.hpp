// BGP path attributes: data model, table-driven codec and RFC 7606 error dispositions.
//
// RFC 4271 section 4.3 / 5.1 (ORIGIN, AS_PATH, NEXT_HOP, MULTI_EXIT_DISC, LOCAL_PREF,
// ATOMIC_AGGREGATE, AGGREGATOR); RFC 1997 (COMMUNITIES); RFC 4456 (ORIGINATOR_ID, CLUSTER_LIST);
// RFC 4760 (MP_REACH_NLRI, MP_UNREACH_NLRI; IPv4/IPv6 unicast); RFC 4360 (EXTENDED
// COMMUNITIES); RFC 6793 (AS4_PATH, AS4_AGGREGATOR, 2- or 4-octet AS_PATH per session);
// RFC 8092 (LARGE_COMMUNITY); RFC 7606 (revised error handling) and RFC 7607 (AS 0).
//
// Path attribute (RFC 4271 section 4.3):
//    0                   1
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   |  Attr. Flags  |Attr. Type Code|  flags: O T P E 0 0 0 0
//   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//   | Attr. Length (1 octet, or 2 when E is set) | Attr. Value ...
//
// Every attribute error becomes one of three types (RFC 7606 section 2), weakest first:
// AttributeDiscard < TreatAsWithdraw < SessionReset. The per-type rules live in one table in
// attributes.cpp (one row per type code).
#pragma once

#include <bitset>
#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "cgwd/bgp/message.hpp"
#include "cgwd/bgp/open.hpp"
#include "cgwd/bgp/prefix.hpp"
#include "cgwd/bgp/wire.hpp"

namespace cgwd::bgp {

namespace attr_type {
inline constexpr std::uint8_t kOrigin = 1;
inline constexpr std::uint8_t kAsPath = 2;
inline constexpr std::uint8_t kNextHop = 3;
inline constexpr std::uint8_t kMed = 4;
inline constexpr std::uint8_t kLocalPref = 5;
inline constexpr std::uint8_t kAtomicAggregate = 6;
inline constexpr std::uint8_t kAggregator = 7;
inline constexpr std::uint8_t kCommunities = 8;
inline constexpr std::uint8_t kOriginatorId = 9;
inline constexpr std::uint8_t kClusterList = 10;
inline constexpr std::uint8_t kMpReachNlri = 14;
inline constexpr std::uint8_t kMpUnreachNlri = 15;
inline constexpr std::uint8_t kExtendedCommunities = 16;
inline constexpr std::uint8_t kAs4Path = 17;
inline constexpr std::uint8_t kAs4Aggregator = 18;
inline constexpr std::uint8_t kLargeCommunity = 32;
}  // namespace attr_type

namespace attr_flag {
inline constexpr std::uint8_t kOptional = 0x80;
inline constexpr std::uint8_t kTransitive = 0x40;
inline constexpr std::uint8_t kPartial = 0x20;
inline constexpr std::uint8_t kExtendedLength = 0x10;
}  // namespace attr_flag

// --- RFC 7606 section 2 error dispositions ---------------------------------------------------
// `reason` always points at a string literal.
struct AttributeDiscard {
    std::uint8_t type = 0;
    std::string_view reason;
};
struct TreatAsWithdraw {
    std::uint8_t type = 0;
    std::string_view reason;
};
struct SessionReset {
    Notification notification;
    std::string_view reason;
};
using UpdateError = std::variant<AttributeDiscard, TreatAsWithdraw, SessionReset>;

// --- Data model ------------------------------------------------------------------------------
enum class Origin : std::uint8_t { Igp = 0, Egp = 1, Incomplete = 2 };

struct AsPathSegment {
    enum class Type : std::uint8_t { Set = 1, Sequence = 2, ConfedSequence = 3, ConfedSet = 4 };
    Type type = Type::Sequence;
    std::vector<std::uint32_t> asns;
    friend bool operator==(const AsPathSegment&, const AsPathSegment&) = default;
};
using AsPath = std::vector<AsPathSegment>;

struct Aggregator {
    std::uint32_t asn = 0;
    std::uint32_t address = 0;  // IPv4, host order
    friend bool operator==(const Aggregator&, const Aggregator&) = default;
};

struct LargeCommunity {
    std::uint32_t global_admin = 0;
    std::uint32_t local_data1 = 0;
    std::uint32_t local_data2 = 0;
    friend bool operator==(const LargeCommunity&, const LargeCommunity&) = default;
};

struct MpReach {
    AfiSafi af = kIpv6Unicast;
    Bytes next_hop;  // 4 (IPv4), 16 or 32 (IPv6 global [+ link-local]) octets
    std::vector<Prefix> nlri;
    friend bool operator==(const MpReach&, const MpReach&) = default;
};

struct MpUnreach {
    AfiSafi af = kIpv6Unicast;
    std::vector<Prefix> withdrawn;
    friend bool operator==(const MpUnreach&, const MpUnreach&) = default;
};

// An attribute this codec does not interpret (optional ones only; an unrecognized well-known
// attribute resets the session). Kept with its flags so a transitive one can be passed on.
struct RawAttribute {
    std::uint8_t flags = 0;
    std::uint8_t type = 0;
    Bytes value;
    friend bool operator==(const RawAttribute&, const RawAttribute&) = default;
};

struct PathAttributes {
    std::optional<Origin> origin;
    std::optional<AsPath> as_path;
    std::optional<std::uint32_t> next_hop;  // IPv4, host order
    std::optional<std::uint32_t> med;
    std::optional<std::uint32_t> local_pref;
    bool atomic_aggregate = false;
    std::optional<Aggregator> aggregator;
    std::vector<std::uint32_t> communities;
    std::optional<std::uint32_t> originator_id;
    std::vector<std::uint32_t> cluster_list;
    std::optional<MpReach> mp_reach;
    std::optional<MpUnreach> mp_unreach;
    std::vector<std::uint64_t> extended_communities;
    std::optional<AsPath> as4_path;
    std::optional<Aggregator> as4_aggregator;
    std::vector<LargeCommunity> large_communities;
    std::vector<RawAttribute> unrecognized;
    friend bool operator==(const PathAttributes&, const PathAttributes&) = default;
};

// Session facts the attribute codec depends on.
struct UpdateContext {
    bool four_octet_as = true;  // both sides sent the RFC 6793 capability
    bool external = true;       // eBGP peer (LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST rules)
};

// Result of walking the Path Attributes field. Errors weaker than a session reset are collected
// (the strongest one decides, RFC 7606 section 3(h)); a session reset stops the walk.
struct AttributeWalk {
    PathAttributes attributes;
    std::vector<UpdateError> errors;
    std::bitset<256> present;         // type codes seen (well-formed or not)
    bool abandoned = false;           // RFC 7606 section 4: the walk stopped on a length overrun
    bool nlri_host_bits_set = false;  // in MP_REACH_NLRI (RFC 7606 section 5.3)
};

[[nodiscard]] std::expected<AttributeWalk, SessionReset> decode_path_attributes(
    ByteView field, const UpdateContext& ctx);
// Encodes all present attributes: MP_UNREACH_NLRI and MP_REACH_NLRI first (RFC 7606 section
// 5.1), then ascending type code, then unrecognized ones. Values over 255 octets use Extended
// Length. On a 2-octet session, 4-octet ASNs become AS_TRANS and AS4_PATH / AS4_AGGREGATOR carry
// the real values (RFC 6793 section 4.2.2) unless the caller set them.
void encode_path_attributes(Writer& w, const PathAttributes& attrs, const UpdateContext& ctx);

// AS_PATH length as RFC 4271 section 9.1.2.2 (a) and RFC 6793 count it: each AS of an
// AS_SEQUENCE, one for an AS_SET, zero for confederation segments (RFC 5065).
[[nodiscard]] std::size_t as_path_length(const AsPath& path);
// Whether `asn` appears anywhere in the path (RFC 4271 section 9.1.2: loop detection).
[[nodiscard]] bool as_path_contains(const AsPath& path, std::uint32_t asn);

// RFC 6793 section 4.2.3: the AS path of a route received over a 2-octet AS session, merging
// AS_PATH with AS4_PATH (AS_SEQUENCE counts each AS, AS_SET counts one, confederation segments
// count zero). AS4_PATH is ignored when it is longer than AS_PATH or when an AGGREGATOR that is
// not AS_TRANS is present. Without AS4_PATH the result is AS_PATH (or empty when absent).
[[nodiscard]] AsPath effective_as_path(const PathAttributes& attrs);
// The matching aggregator: AS4_AGGREGATOR when AGGREGATOR carries AS_TRANS, else AGGREGATOR.
[[nodiscard]] std::optional<Aggregator> effective_aggregator(const PathAttributes& attrs);

// Severity ordering used to pick the strongest disposition.
enum class Severity : std::uint8_t { None = 0, Discard = 1, Withdraw = 2, Reset = 3 };
[[nodiscard]] Severity severity(const UpdateError& e);

}  // namespace cgwd::bgp
