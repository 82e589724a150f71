// Path attribute table and walk. See attributes.hpp for the wire layout.
#include "cgwd/bgp/attributes.hpp"

#include <algorithm>
#include <array>

namespace cgwd::bgp {
namespace {

using namespace attr_type;
constexpr std::uint8_t kO = attr_flag::kOptional;
constexpr std::uint8_t kT = attr_flag::kTransitive;

enum class Act : std::uint8_t { Discard, Withdraw, Reset };

struct Fault {
    Act act;
    std::uint8_t subcode;  // used when act == Reset (UPDATE Message Error subcode)
    std::string_view reason;
};
using ParseResult = std::expected<void, Fault>;
using ParseFn = ParseResult (*)(Reader&, const UpdateContext&, AttributeWalk&);
using EncodeFn = bool (*)(const PathAttributes&, const UpdateContext&, Writer&);

// Attribute Length must satisfy min <= len <= max and (len - min) % unit == 0.
struct LengthRule {
    std::uint16_t min;
    std::uint16_t max;
    std::uint16_t unit;
    [[nodiscard]] bool accepts(std::size_t len) const {
        return len >= min && len <= max && (len - min) % unit == 0;
    }
};
constexpr std::uint16_t kAny = 0xffff;

struct AttributeRule {
    std::uint8_t type;
    std::uint8_t flags;  // expected Optional/Transitive bits (RFC 7606 section 3(c))
    Act flags_error;     // disposition when those bits conflict
    LengthRule length;
    Act length_error;          // disposition when Attribute Length breaks the rule
    bool discard_if_external;  // RFC 7606 sections 7.5, 7.9, 7.10
    ParseFn parse;
    EncodeFn encode;
};

// --- AS path helpers ---------------------------------------------------------------------------
//   AS_PATH segment: | type (1) | count (1, number of ASes) | ASes (count * 2 or 4 octets) |
std::expected<AsPath, std::string_view> parse_segments(Reader& r, bool four_octet,
                                                       bool allow_confed) {
    AsPath path;
    while (!r.empty()) {
        if (!r.has(2)) return std::unexpected("AS_PATH segment header truncated");
        const std::uint8_t type = r.u8();
        const std::uint8_t count = r.u8();
        if (type < 1 || type > 4) return std::unexpected("AS_PATH segment type undefined");
        if (!allow_confed && type > 2) return std::unexpected("AS_CONFED segment not allowed");
        if (count == 0) return std::unexpected("AS_PATH segment of length zero");
        const std::size_t width = four_octet ? 4 : 2;
        if (!r.has(count * width)) return std::unexpected("AS_PATH segment overruns attribute");
        AsPathSegment seg;
        seg.type = static_cast<AsPathSegment::Type>(type);
        for (std::size_t i = 0; i < count; ++i) {
            const std::uint32_t asn = four_octet ? r.u32() : r.u16();
            if (asn == 0) return std::unexpected("AS 0 in path (RFC 7607)");
            seg.asns.push_back(asn);
        }
        path.push_back(std::move(seg));
    }
    return path;
}

void write_segments(Writer& w, const AsPath& path, bool four_octet) {
    for (const auto& seg : path) {
        // A segment holds at most 255 ASes; longer ones are split.
        for (std::size_t off = 0; off < seg.asns.size(); off += 255) {
            const std::size_t n = std::min<std::size_t>(255, seg.asns.size() - off);
            w.u8(static_cast<std::uint8_t>(seg.type));
            w.u8(static_cast<std::uint8_t>(n));
            for (std::size_t i = off; i < off + n; ++i) {
                const std::uint32_t asn = seg.asns[i];
                if (four_octet) {
                    w.u32(asn);
                } else {
                    w.u16(asn > 0xffff ? kAsTrans : static_cast<std::uint16_t>(asn));
                }
            }
        }
    }
}

bool has_wide_asn(const AsPath& path) {
    for (const auto& seg : path) {
        for (auto asn : seg.asns) {
            if (asn > 0xffff) return true;
        }
    }
    return false;
}

// --- Parsers (the reader spans exactly the attribute value) ------------------------------------
ParseResult parse_origin(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    const std::uint8_t v = r.u8();
    if (v > 2) return std::unexpected(Fault{Act::Withdraw, 6, "undefined ORIGIN value"});
    walk.attributes.origin = static_cast<Origin>(v);
    return {};
}

ParseResult parse_as_path(Reader& r, const UpdateContext& ctx, AttributeWalk& walk) {
    // RFC 7606 section 7.2; confederation segments only from internal (confederation) peers.
    auto path = parse_segments(r, ctx.four_octet_as, !ctx.external);
    if (!path) return std::unexpected(Fault{Act::Withdraw, 11, path.error()});
    walk.attributes.as_path = std::move(*path);
    return {};
}

ParseResult parse_next_hop(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    const std::uint32_t nh = r.u32();
    const std::uint32_t first = nh >> 24;
    // RFC 4271 section 6.3 / RFC 7606 section 7.3: a NEXT_HOP that is not a unicast address.
    if (first == 0 || first == 127 || first >= 224) {
        return std::unexpected(Fault{Act::Withdraw, 8, "NEXT_HOP is not a unicast address"});
    }
    walk.attributes.next_hop = nh;
    return {};
}

ParseResult parse_med(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    walk.attributes.med = r.u32();
    return {};
}

ParseResult parse_local_pref(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    walk.attributes.local_pref = r.u32();
    return {};
}

ParseResult parse_atomic_aggregate(Reader&, const UpdateContext&, AttributeWalk& walk) {
    walk.attributes.atomic_aggregate = true;
    return {};
}

ParseResult parse_aggregator(Reader& r, const UpdateContext& ctx, AttributeWalk& walk) {
    // RFC 7606 section 7.7: 6 octets on a 2-octet session, 8 on a 4-octet one.
    if (r.remaining() != (ctx.four_octet_as ? 8u : 6u)) {
        (void)r.rest();
        return std::unexpected(Fault{Act::Discard, 5, "AGGREGATOR length wrong for AS size"});
    }
    Aggregator a;
    a.asn = ctx.four_octet_as ? r.u32() : r.u16();
    a.address = r.u32();
    if (a.asn == 0) return std::unexpected(Fault{Act::Discard, 9, "AGGREGATOR AS 0 (RFC 7607)"});
    walk.attributes.aggregator = a;
    return {};
}

ParseResult parse_communities(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    while (r.has(4)) walk.attributes.communities.push_back(r.u32());
    return {};
}

ParseResult parse_originator_id(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    walk.attributes.originator_id = r.u32();
    return {};
}

ParseResult parse_cluster_list(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    while (r.has(4)) walk.attributes.cluster_list.push_back(r.u32());
    return {};
}

// RFC 4760 section 3:
//   | AFI (2) | SAFI (1) | Length of Next Hop (1) | Next Hop (variable) | Reserved (1) | NLRI |
ParseResult parse_mp_reach(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    MpReach mp;
    mp.af.afi = r.u16();
    mp.af.safi = r.u8();
    const std::uint8_t nh_len = r.u8();
    if (mp.af != kIpv4Unicast && mp.af != kIpv6Unicast) {
        (void)r.rest();
        return std::unexpected(Fault{Act::Discard, 9, "MP_REACH_NLRI for unsupported AFI/SAFI"});
    }
    const bool nh_ok = mp.af == kIpv4Unicast ? nh_len == 4 : (nh_len == 16 || nh_len == 32);
    // RFC 7606 section 7.11: the NLRI cannot be located reliably, so the session is reset.
    if (!nh_ok || !r.has(nh_len + 1u)) {
        return std::unexpected(
            Fault{Act::Reset, 9, "MP_REACH_NLRI next hop length inconsistent with AFI"});
    }
    const ByteView nh = r.bytes(nh_len);
    mp.next_hop.assign(nh.begin(), nh.end());
    (void)r.u8();  // reserved
    const Afi afi = static_cast<Afi>(mp.af.afi);
    auto prefixes = decode_prefixes(r.rest(), afi);
    if (!prefixes) return std::unexpected(Fault{Act::Reset, 9, "MP_REACH_NLRI NLRI malformed"});
    walk.nlri_host_bits_set = walk.nlri_host_bits_set || prefixes->host_bits_set;
    mp.nlri = std::move(prefixes->prefixes);
    walk.attributes.mp_reach = std::move(mp);
    return {};
}

// RFC 4760 section 4: | AFI (2) | SAFI (1) | Withdrawn Routes (variable) |
ParseResult parse_mp_unreach(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    MpUnreach mp;
    mp.af.afi = r.u16();
    mp.af.safi = r.u8();
    if (mp.af != kIpv4Unicast && mp.af != kIpv6Unicast) {
        (void)r.rest();
        return std::unexpected(Fault{Act::Discard, 9, "MP_UNREACH_NLRI for unsupported AFI/SAFI"});
    }
    auto prefixes = decode_prefixes(r.rest(), static_cast<Afi>(mp.af.afi));
    if (!prefixes) {
        return std::unexpected(Fault{Act::Reset, 9, "MP_UNREACH_NLRI withdrawn routes malformed"});
    }
    mp.withdrawn = std::move(prefixes->prefixes);
    walk.attributes.mp_unreach = std::move(mp);
    return {};
}

ParseResult parse_extended_communities(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    while (r.has(8)) {
        const std::uint64_t hi = r.u32();
        walk.attributes.extended_communities.push_back((hi << 32) | r.u32());
    }
    return {};
}

ParseResult parse_as4_path(Reader& r, const UpdateContext& ctx, AttributeWalk& walk) {
    if (ctx.four_octet_as) {
        // RFC 6793 section 4.1: a NEW speaker discards AS4_PATH received from a NEW speaker.
        (void)r.rest();
        return std::unexpected(Fault{Act::Discard, 9, "AS4_PATH on a 4-octet AS session"});
    }
    // RFC 6793 section 6: a malformed AS4_PATH (including confederation segments) is discarded.
    auto path = parse_segments(r, true, false);
    if (!path) {
        (void)r.rest();
        return std::unexpected(Fault{Act::Discard, 9, path.error()});
    }
    walk.attributes.as4_path = std::move(*path);
    return {};
}

ParseResult parse_as4_aggregator(Reader& r, const UpdateContext& ctx, AttributeWalk& walk) {
    if (ctx.four_octet_as) {
        (void)r.rest();
        return std::unexpected(Fault{Act::Discard, 9, "AS4_AGGREGATOR on a 4-octet AS session"});
    }
    Aggregator a;
    a.asn = r.u32();
    a.address = r.u32();
    if (a.asn == 0) return std::unexpected(Fault{Act::Discard, 9, "AS4_AGGREGATOR AS 0"});
    walk.attributes.as4_aggregator = a;
    return {};
}

ParseResult parse_large_communities(Reader& r, const UpdateContext&, AttributeWalk& walk) {
    while (r.has(12)) {
        LargeCommunity c;
        c.global_admin = r.u32();
        c.local_data1 = r.u32();
        c.local_data2 = r.u32();
        walk.attributes.large_communities.push_back(c);
    }
    return {};
}

// --- Encoders (return false when the attribute is absent) --------------------------------------
bool enc_origin(const PathAttributes& a, const UpdateContext&, Writer& w) {
    if (!a.origin) return false;
    w.u8(static_cast<std::uint8_t>(*a.origin));
    return true;
}
bool enc_as_path(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    if (!a.as_path) return false;
    write_segments(w, *a.as_path, ctx.four_octet_as);
    return true;
}
bool enc_u32(const std::optional<std::uint32_t>& v, Writer& w) {
    if (!v) return false;
    w.u32(*v);
    return true;
}
bool enc_next_hop(const PathAttributes& a, const UpdateContext&, Writer& w) {
    return enc_u32(a.next_hop, w);
}
bool enc_med(const PathAttributes& a, const UpdateContext&, Writer& w) {
    return enc_u32(a.med, w);
}
bool enc_local_pref(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    return !ctx.external && enc_u32(a.local_pref, w);
}
bool enc_atomic_aggregate(const PathAttributes& a, const UpdateContext&, Writer&) {
    return a.atomic_aggregate;
}
bool enc_aggregator(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    if (!a.aggregator) return false;
    if (ctx.four_octet_as) {
        w.u32(a.aggregator->asn);
    } else {
        w.u16(a.aggregator->asn > 0xffff ? kAsTrans
                                         : static_cast<std::uint16_t>(a.aggregator->asn));
    }
    w.u32(a.aggregator->address);
    return true;
}
bool enc_u32_list(const std::vector<std::uint32_t>& v, Writer& w) {
    for (auto x : v) w.u32(x);
    return !v.empty();
}
bool enc_communities(const PathAttributes& a, const UpdateContext&, Writer& w) {
    return enc_u32_list(a.communities, w);
}
bool enc_originator_id(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    return !ctx.external && enc_u32(a.originator_id, w);
}
bool enc_cluster_list(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    return !ctx.external && enc_u32_list(a.cluster_list, w);
}
bool enc_mp_reach(const PathAttributes& a, const UpdateContext&, Writer& w) {
    if (!a.mp_reach) return false;
    w.u16(a.mp_reach->af.afi);
    w.u8(a.mp_reach->af.safi);
    w.u8(static_cast<std::uint8_t>(a.mp_reach->next_hop.size()));
    w.bytes(a.mp_reach->next_hop);
    w.u8(0);
    for (const auto& p : a.mp_reach->nlri) encode_prefix(w, p);
    return true;
}
bool enc_mp_unreach(const PathAttributes& a, const UpdateContext&, Writer& w) {
    if (!a.mp_unreach) return false;
    w.u16(a.mp_unreach->af.afi);
    w.u8(a.mp_unreach->af.safi);
    for (const auto& p : a.mp_unreach->withdrawn) encode_prefix(w, p);
    return true;
}
bool enc_extended_communities(const PathAttributes& a, const UpdateContext&, Writer& w) {
    for (auto x : a.extended_communities) {
        w.u32(static_cast<std::uint32_t>(x >> 32));
        w.u32(static_cast<std::uint32_t>(x));
    }
    return !a.extended_communities.empty();
}
bool enc_as4_path(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    if (ctx.four_octet_as) return false;  // RFC 6793 section 4.1: never between NEW speakers
    if (a.as4_path) {
        write_segments(w, *a.as4_path, true);
        return true;
    }
    if (!a.as_path || !has_wide_asn(*a.as_path)) return false;
    // RFC 6793 section 4.2.2: AS4_PATH carries the path without confederation segments.
    AsPath path;
    for (const auto& seg : *a.as_path) {
        if (seg.type == AsPathSegment::Type::Sequence || seg.type == AsPathSegment::Type::Set) {
            path.push_back(seg);
        }
    }
    write_segments(w, path, true);
    return true;
}
bool enc_as4_aggregator(const PathAttributes& a, const UpdateContext& ctx, Writer& w) {
    if (ctx.four_octet_as) return false;
    const auto& agg = a.as4_aggregator                               ? a.as4_aggregator
                      : (a.aggregator && a.aggregator->asn > 0xffff) ? a.aggregator
                                                                     : std::nullopt;
    if (!agg) return false;
    w.u32(agg->asn);
    w.u32(agg->address);
    return true;
}
bool enc_large_communities(const PathAttributes& a, const UpdateContext&, Writer& w) {
    for (const auto& c : a.large_communities) {
        w.u32(c.global_admin);
        w.u32(c.local_data1);
        w.u32(c.local_data2);
    }
    return !a.large_communities.empty();
}

// One row per type code. Order is the encoding order: MP attributes first (RFC 7606 section 5.1).
// Dispositions: flags conflicts are treat-as-withdraw (RFC 7606 section 3(c)) except where the
// attribute's rules say otherwise; length errors follow RFC 7606 section 7.x per attribute.
// clang-format off
constexpr std::array<AttributeRule, 16> kAttributeTable{{
    // type                  flags     flags err     length           length err    ext-discard
    {kMpUnreachNlri,         kO,       Act::Reset,    {3, kAny, 1},   Act::Reset,    false,  // 7.12, 3(j)
     parse_mp_unreach, enc_mp_unreach},
    {kMpReachNlri,           kO,       Act::Reset,    {5, kAny, 1},   Act::Reset,    false,  // 7.11, 3(j)
     parse_mp_reach, enc_mp_reach},
    {kOrigin,                kT,       Act::Withdraw, {1, 1, 1},      Act::Withdraw, false,  // 7.1
     parse_origin, enc_origin},
    {kAsPath,                kT,       Act::Withdraw, {0, kAny, 1},   Act::Withdraw, false,  // 7.2
     parse_as_path, enc_as_path},
    {kNextHop,               kT,       Act::Withdraw, {4, 4, 1},      Act::Withdraw, false,  // 7.3
     parse_next_hop, enc_next_hop},
    {kMed,                   kO,       Act::Withdraw, {4, 4, 1},      Act::Withdraw, false,  // 7.4
     parse_med, enc_med},
    {kLocalPref,             kT,       Act::Withdraw, {4, 4, 1},      Act::Withdraw, true,   // 7.5
     parse_local_pref, enc_local_pref},
    {kAtomicAggregate,       kT,       Act::Discard,  {0, 0, 1},      Act::Discard,  false,  // 7.6, 3(f)
     parse_atomic_aggregate, enc_atomic_aggregate},
    {kAggregator,            kO | kT,  Act::Discard,  {6, 8, 2},      Act::Discard,  false,  // 7.7, 3(f)
     parse_aggregator, enc_aggregator},
    {kCommunities,           kO | kT,  Act::Withdraw, {4, kAny, 4},   Act::Withdraw, false,  // 7.8
     parse_communities, enc_communities},
    {kOriginatorId,          kO,       Act::Withdraw, {4, 4, 1},      Act::Withdraw, true,   // 7.9
     parse_originator_id, enc_originator_id},
    {kClusterList,           kO,       Act::Withdraw, {4, kAny, 4},   Act::Withdraw, true,   // 7.10
     parse_cluster_list, enc_cluster_list},
    {kExtendedCommunities,   kO | kT,  Act::Withdraw, {8, kAny, 8},   Act::Withdraw, false,  // 7.14
     parse_extended_communities, enc_extended_communities},
    {kAs4Path,               kO | kT,  Act::Withdraw, {0, kAny, 1},   Act::Discard,  false,  // RFC 6793 s6
     parse_as4_path, enc_as4_path},
    {kAs4Aggregator,         kO | kT,  Act::Discard,  {8, 8, 1},      Act::Discard,  false,  // RFC 6793 s6
     parse_as4_aggregator, enc_as4_aggregator},
    {kLargeCommunity,        kO | kT,  Act::Withdraw, {12, kAny, 12}, Act::Withdraw, false,  // RFC 8092 s6
     parse_large_communities, enc_large_communities},
}};
// clang-format on

const AttributeRule* find_rule(std::uint8_t type) {
    const auto* it = std::find_if(kAttributeTable.begin(), kAttributeTable.end(),
                                  [type](const AttributeRule& r) { return r.type == type; });
    return it == kAttributeTable.end() ? nullptr : it;
}

SessionReset update_reset(std::uint8_t subcode, ByteView data, std::string_view reason) {
    return SessionReset{
        Notification::make(ErrorCode::UpdateMessage, subcode, Bytes(data.begin(), data.end())),
        reason};
}

void put_attribute(Writer& w, std::uint8_t flags, std::uint8_t type, const Bytes& value) {
    flags &= static_cast<std::uint8_t>(~attr_flag::kExtendedLength);
    if (value.size() > 255) flags |= attr_flag::kExtendedLength;
    w.u8(flags);
    w.u8(type);
    if (value.size() > 255) {
        w.u16(static_cast<std::uint16_t>(value.size()));
    } else {
        w.u8(static_cast<std::uint8_t>(value.size()));
    }
    w.bytes(value);
}

}  // namespace

Severity severity(const UpdateError& e) {
    if (std::holds_alternative<AttributeDiscard>(e)) return Severity::Discard;
    if (std::holds_alternative<TreatAsWithdraw>(e)) return Severity::Withdraw;
    return Severity::Reset;
}

std::expected<AttributeWalk, SessionReset> decode_path_attributes(ByteView field,
                                                                  const UpdateContext& ctx) {
    AttributeWalk walk;
    Reader r(field);
    while (!r.empty()) {
        const std::size_t start = r.position();
        // RFC 7606 section 4: fewer octets than a minimal attribute header, or an Attribute
        // Length overrunning the Total Path Attribute Length: treat-as-withdraw, and the NLRI
        // field is still located through the Total Path Attribute Length.
        if (!r.has(3)) {
            walk.errors.emplace_back(TreatAsWithdraw{0, "attribute header truncated"});
            walk.abandoned = true;
            break;
        }
        const std::uint8_t flags = r.u8();
        const std::uint8_t type = r.u8();
        const bool extended = (flags & attr_flag::kExtendedLength) != 0;
        if (extended && !r.has(2)) {
            walk.errors.emplace_back(TreatAsWithdraw{type, "attribute header truncated"});
            walk.abandoned = true;
            break;
        }
        const std::size_t len = extended ? r.u16() : r.u8();
        if (!r.has(len)) {
            walk.errors.emplace_back(TreatAsWithdraw{type, "attribute length overruns total"});
            walk.abandoned = true;
            break;
        }
        const ByteView value = r.bytes(len);
        const ByteView whole = field.subspan(start, r.position() - start);

        // RFC 7606 section 3(g): duplicates.
        if (walk.present.test(type)) {
            if (type == kMpReachNlri || type == kMpUnreachNlri) {
                return std::unexpected(update_reset(update_error::kMalformedAttributeList, {},
                                                    "MP_REACH/MP_UNREACH_NLRI repeated"));
            }
            walk.errors.emplace_back(AttributeDiscard{type, "repeated attribute"});
            continue;
        }
        walk.present.set(type);

        const AttributeRule* rule = find_rule(type);
        if (rule == nullptr) {
            if ((flags & kO) == 0) {
                return std::unexpected(update_reset(update_error::kUnrecognizedWellKnownAttribute,
                                                    whole, "unrecognized well-known attribute"));
            }
            walk.attributes.unrecognized.push_back(
                {static_cast<std::uint8_t>(flags & ~attr_flag::kExtendedLength), type,
                 Bytes(value.begin(), value.end())});
            continue;
        }

        // Returns a session reset to propagate, or records the weaker disposition.
        auto apply = [&](Act act, std::uint8_t subcode,
                         std::string_view reason) -> std::optional<SessionReset> {
            switch (act) {
                case Act::Discard:
                    walk.errors.emplace_back(AttributeDiscard{type, reason});
                    return std::nullopt;
                case Act::Withdraw:
                    walk.errors.emplace_back(TreatAsWithdraw{type, reason});
                    return std::nullopt;
                case Act::Reset:
                    break;
            }
            return update_reset(subcode, whole, reason);
        };

        std::optional<SessionReset> reset;
        if (rule->discard_if_external && ctx.external) {
            reset = apply(Act::Discard, 0, "attribute not accepted from external peer");
        } else if ((flags & (kO | kT)) != rule->flags) {
            reset = apply(rule->flags_error, update_error::kAttributeFlagsError,
                          "attribute flags conflict");
        } else if (!rule->length.accepts(len)) {
            reset = apply(rule->length_error, update_error::kAttributeLengthError,
                          "attribute length error");
        } else {
            Reader vr(value);
            auto parsed = rule->parse(vr, ctx, walk);
            if (!parsed) {
                reset = apply(parsed.error().act, parsed.error().subcode, parsed.error().reason);
            } else if (!vr.empty() || vr.failed()) {
                reset = apply(rule->length_error, update_error::kAttributeLengthError,
                              "attribute value not fully consumed");
            }
        }
        if (reset) return std::unexpected(std::move(*reset));
    }
    return walk;
}

std::size_t as_path_length(const AsPath& path) {
    std::size_t n = 0;
    for (const auto& seg : path) {
        if (seg.type == AsPathSegment::Type::Sequence) n += seg.asns.size();
        if (seg.type == AsPathSegment::Type::Set) n += 1;
    }
    return n;
}

bool as_path_contains(const AsPath& path, std::uint32_t asn) {
    for (const auto& seg : path) {
        if (std::find(seg.asns.begin(), seg.asns.end(), asn) != seg.asns.end()) return true;
    }
    return false;
}

AsPath effective_as_path(const PathAttributes& attrs) {
    AsPath as_path = attrs.as_path.value_or(AsPath{});
    if (!attrs.as4_path) return as_path;
    if (attrs.aggregator && attrs.aggregator->asn != kAsTrans) return as_path;
    const std::size_t n2 = as_path_length(as_path);
    const std::size_t n4 = as_path_length(*attrs.as4_path);
    if (n2 < n4) return as_path;
    // Keep the leading (n2 - n4) ASes of AS_PATH, then append AS4_PATH.
    std::size_t keep = n2 - n4;
    AsPath out;
    for (const auto& seg : as_path) {
        if (seg.type == AsPathSegment::Type::ConfedSequence ||
            seg.type == AsPathSegment::Type::ConfedSet) {
            out.push_back(seg);
            continue;
        }
        if (keep == 0) break;
        if (seg.type == AsPathSegment::Type::Set) {
            out.push_back(seg);
            --keep;
            continue;
        }
        const std::size_t take = std::min(keep, seg.asns.size());
        out.push_back({seg.type, {seg.asns.begin(), seg.asns.begin() + static_cast<long>(take)}});
        keep -= take;
    }
    out.insert(out.end(), attrs.as4_path->begin(), attrs.as4_path->end());
    return out;
}

std::optional<Aggregator> effective_aggregator(const PathAttributes& attrs) {
    if (attrs.aggregator && attrs.aggregator->asn == kAsTrans && attrs.as4_aggregator) {
        return attrs.as4_aggregator;
    }
    return attrs.aggregator;
}

void encode_path_attributes(Writer& w, const PathAttributes& attrs, const UpdateContext& ctx) {
    Bytes value;
    for (const AttributeRule& rule : kAttributeTable) {
        value.clear();
        Writer vw(value);
        if (rule.encode(attrs, ctx, vw)) put_attribute(w, rule.flags, rule.type, value);
    }
    for (const auto& raw : attrs.unrecognized) put_attribute(w, raw.flags, raw.type, raw.value);
}

}  // namespace cgwd::bgp
