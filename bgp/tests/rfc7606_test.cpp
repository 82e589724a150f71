// RFC 7606 (Revised Error Handling for BGP UPDATE Messages): one test per case of sections 3,
// 4, 5.3 and 7, plus the RFC 6793 section 6 / RFC 8092 section 6 / RFC 7607 rules for the other
// implemented attributes. UPDATE bodies are hand-assembled from RFC 4271 section 4.3.
#include <catch2/catch.hpp>

#include <algorithm>

#include "cgwd/bgp/update.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

namespace {

const UpdateContext kEbgp{true, true};
const UpdateContext kIbgp{true, false};
const UpdateContext kEbgp2{false, true};

// ORIGIN IGP, AS_PATH (65001), NEXT_HOP 198.51.100.1 -- the well-known mandatory attributes.
const char* kBase = "40 01 01 00  40 02 06 02 01 0000fde9  40 03 04 c6336401";
const char* kNlri = "18 c00002";  // 192.0.2.0/24

// UPDATE body: Withdrawn Routes Length, Withdrawn Routes, Total Path Attribute Length, Path
// Attributes, NLRI.
Bytes body(const Bytes& attrs, const Bytes& nlri = hex(kNlri), const Bytes& withdrawn = {}) {
    Bytes b;
    Writer w(b);
    w.u16(static_cast<std::uint16_t>(withdrawn.size()));
    w.bytes(withdrawn);
    w.u16(static_cast<std::uint16_t>(attrs.size()));
    w.bytes(attrs);
    w.bytes(nlri);
    return b;
}
Bytes with_base(const char* extra) {
    return test::cat(hex(kBase), hex(extra));
}

template <typename T>
bool has_error(const Update& u, std::uint8_t type) {
    return std::any_of(u.errors.begin(), u.errors.end(), [type](const UpdateError& e) {
        return std::holds_alternative<T>(e) && std::get<T>(e).type == type;
    });
}

void require_withdraw(const std::expected<Update, SessionReset>& r, std::uint8_t type) {
    REQUIRE(r.has_value());
    CHECK(r->disposition() == Severity::Withdraw);
    CHECK(has_error<TreatAsWithdraw>(*r, type));
    CHECK(r->routes_announced().empty());
    const auto gone = r->routes_withdrawn();
    CHECK(std::find(gone.begin(), gone.end(), Prefix::v4(0xc0000200, 24)) != gone.end());
}

void require_discard(const std::expected<Update, SessionReset>& r, std::uint8_t type) {
    REQUIRE(r.has_value());
    CHECK(r->disposition() == Severity::Discard);
    CHECK(has_error<AttributeDiscard>(*r, type));
    CHECK(r->routes_announced() == std::vector<Prefix>{Prefix::v4(0xc0000200, 24)});
}

void require_reset(const std::expected<Update, SessionReset>& r, std::uint8_t subcode) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().notification.code == 3);
    CHECK(r.error().notification.subcode == subcode);
}

}  // namespace

TEST_CASE("RFC 7606 baseline: the base UPDATE is accepted", "[bgp][rfc7606]") {
    auto r = decode_update(body(hex(kBase)), kEbgp);
    REQUIRE(r.has_value());
    CHECK(r->disposition() == Severity::None);
    CHECK(r->routes_announced().size() == 1);
}

TEST_CASE("RFC 7606 3(a): session reset is a NOTIFICATION carrying the erroneous attribute",
          "[bgp][rfc7606]") {
    // Unrecognized well-known attribute (type 99, Optional bit clear): RFC 4271 section 6.3
    // subcode 2, data = the attribute.
    auto r = decode_update(body(with_base("40 63 01 00")), kEbgp);
    require_reset(r, update_error::kUnrecognizedWellKnownAttribute);
    CHECK(r.error().notification.data == hex("40 63 01 00"));
    // MP_REACH_NLRI with wrong flags cannot be treat-as-withdraw (its NLRI is inside): 3/4.
    auto mp = decode_update(body(hex("c0 0e 05 0002 01 00 00"), {}), kEbgp);
    require_reset(mp, update_error::kAttributeFlagsError);
    CHECK(mp.error().notification.data == hex("c0 0e 05 0002 01 00 00"));
}

TEST_CASE("RFC 7606 3(b): lengths inconsistent with the message reset the session",
          "[bgp][rfc7606]") {
    // Withdrawn Routes Length past the end of the message.
    require_reset(decode_update(hex("0010 18c00002 0000"), kEbgp),
                  update_error::kMalformedAttributeList);
    // Total Path Attribute Length past the end of the message.
    require_reset(decode_update(hex("0000 0020 40 01 01 00"), kEbgp),
                  update_error::kMalformedAttributeList);
    // Too short to hold either length.
    require_reset(decode_update(hex("00"), kEbgp), update_error::kMalformedAttributeList);
    require_reset(decode_update(hex("0000 00"), kEbgp), update_error::kMalformedAttributeList);
}

TEST_CASE("RFC 7606 3(c): Optional/Transitive flag conflicts are treat-as-withdraw",
          "[bgp][rfc7606]") {
    // ORIGIN sent as optional transitive.
    require_withdraw(decode_update(body(hex("c0 01 01 00  40 02 00  40 03 04 c6336401")), kEbgp),
                     attr_type::kOrigin);
    // MED sent as transitive.
    require_withdraw(decode_update(body(with_base("c0 04 04 00000064")), kEbgp), attr_type::kMed);
    // COMMUNITIES sent as non-transitive.
    require_withdraw(decode_update(body(with_base("80 08 04 fde90064")), kEbgp),
                     attr_type::kCommunities);
    // Only the Optional and Transitive bits are checked: Partial on ORIGIN is not an error.
    auto partial = decode_update(body(hex("60 01 01 00  40 02 00  40 03 04 c6336401")), kEbgp);
    REQUIRE(partial.has_value());
    CHECK(partial->disposition() == Severity::None);
}

TEST_CASE("RFC 7606 3(d): a missing well-known mandatory attribute is treat-as-withdraw",
          "[bgp][rfc7606]") {
    require_withdraw(decode_update(body(hex("40 02 00  40 03 04 c6336401")), kEbgp),
                     attr_type::kOrigin);
    require_withdraw(decode_update(body(hex("40 01 01 00  40 03 04 c6336401")), kEbgp),
                     attr_type::kAsPath);
    require_withdraw(decode_update(body(hex("40 01 01 00  40 02 00")), kEbgp), attr_type::kNextHop);
    // Without reachable NLRI nothing is mandatory (a pure withdrawal).
    auto pure = decode_update(body({}, {}, hex(kNlri)), kEbgp);
    REQUIRE(pure.has_value());
    CHECK(pure->disposition() == Severity::None);
    CHECK(pure->routes_withdrawn() == std::vector<Prefix>{Prefix::v4(0xc0000200, 24)});
    // MP_REACH_NLRI routes need ORIGIN and AS_PATH but not NEXT_HOP (RFC 4760 section 3).
    const char* mp = "80 0e 1c 0002 01 10 20010db8000000000000000000000001 00 30 20010db80001";
    auto mp_ok = decode_update(body(test::cat(hex(mp), hex("40 01 01 00 40 02 00")), {}), kEbgp);
    REQUIRE(mp_ok.has_value());
    CHECK(mp_ok->disposition() == Severity::None);
    auto mp_missing = decode_update(body(hex(mp), {}), kEbgp);
    REQUIRE(mp_missing.has_value());
    CHECK(mp_missing->treat_as_withdraw());
    CHECK(mp_missing->routes_withdrawn().size() == 1);
}

TEST_CASE("RFC 7606 3(e): a malformed attribute is treat-as-withdraw by default",
          "[bgp][rfc7606]") {
    require_withdraw(decode_update(body(hex("40 01 01 00  40 02 00  40 03 05 c633640100")), kEbgp),
                     attr_type::kNextHop);
}

TEST_CASE("RFC 7606 3(f): attributes without effect on route selection are discarded",
          "[bgp][rfc7606]") {
    require_discard(decode_update(body(with_base("40 06 01 00")), kEbgp),
                    attr_type::kAtomicAggregate);
    require_discard(decode_update(body(with_base("c0 07 07 0000fde9 c00002")), kEbgp),
                    attr_type::kAggregator);
    // Flag conflicts on these two are discarded as well.
    require_discard(decode_update(body(with_base("c0 06 00")), kEbgp), attr_type::kAtomicAggregate);
}

TEST_CASE("RFC 7606 3(g): repeated attributes", "[bgp][rfc7606]") {
    SECTION("other than MP_REACH/MP_UNREACH: all but the first are discarded") {
        auto r = decode_update(body(with_base("c0 08 04 fde90064  c0 08 04 fde900c8")), kEbgp);
        REQUIRE(r.has_value());
        CHECK(r->attributes.communities == std::vector<std::uint32_t>{0xfde90064});
        CHECK(has_error<AttributeDiscard>(*r, attr_type::kCommunities));
        CHECK(r->routes_announced().size() == 1);
    }
    SECTION("repeated MP_REACH_NLRI resets the session: Malformed Attribute List") {
        const char* mp = "80 0e 15 0002 01 10 20010db8000000000000000000000001 00";
        require_reset(decode_update(body(test::cat(hex(mp), hex(mp)), {}), kEbgp),
                      update_error::kMalformedAttributeList);
    }
    SECTION("repeated MP_UNREACH_NLRI resets the session") {
        const char* mp = "80 0f 03 0002 01";
        require_reset(decode_update(body(test::cat(hex(mp), hex(mp)), {}), kEbgp),
                      update_error::kMalformedAttributeList);
    }
}

TEST_CASE("RFC 7606 3(h): the strongest of several dispositions applies", "[bgp][rfc7606]") {
    // Discard (ATOMIC_AGGREGATE length) + treat-as-withdraw (MED length).
    auto r = decode_update(body(with_base("80 04 03 000064  40 06 01 00")), kEbgp);
    REQUIRE(r.has_value());
    CHECK(r->errors.size() == 2);
    CHECK(r->disposition() == Severity::Withdraw);
    CHECK(r->routes_announced().empty());
    // Treat-as-withdraw followed by a repeated MP_UNREACH_NLRI: session reset wins.
    require_reset(
        decode_update(body(with_base("80 04 03 000064  80 0f 03 0002 01  80 0f 03 0002 01"), {}),
                      kEbgp),
        update_error::kMalformedAttributeList);
}

TEST_CASE("RFC 7606 3(i): Withdrawn Routes are checked like the NLRI field", "[bgp][rfc7606]") {
    require_reset(decode_update(body({}, {}, hex("21 c0000201 00")), kEbgp),
                  update_error::kInvalidNetworkField);
    require_reset(decode_update(body({}, {}, hex("18 c000")), kEbgp),
                  update_error::kInvalidNetworkField);
}

TEST_CASE("RFC 7606 3(j): treat-as-withdraw needs parseable NLRI, else session reset",
          "[bgp][rfc7606]") {
    // The attribute error alone would be treat-as-withdraw, but the NLRI cannot be parsed.
    require_reset(decode_update(body(with_base("80 04 03 000064"), hex("18 c000")), kEbgp),
                  update_error::kInvalidNetworkField);
    // Same inside MP_REACH_NLRI (prefix length 129).
    Bytes mp = hex("80 0e 1c 0002 01 10 20010db8000000000000000000000001 00 81");
    mp.resize(mp.size() + 7, 0);
    mp[2] = static_cast<std::uint8_t>(mp.size() - 3);
    require_reset(decode_update(body(test::cat(hex("80 04 03 000064"), mp), {}), kEbgp),
                  update_error::kOptionalAttributeError);
}

TEST_CASE("RFC 7606 4: attribute length overrunning a consistent total is treat-as-withdraw",
          "[bgp][rfc7606]") {
    // Last attribute claims 8 octets but only 4 remain within the Total Path Attribute Length;
    // the NLRI is still found through the Total Path Attribute Length and withdrawn.
    require_withdraw(decode_update(body(with_base("80 04 08 00000064")), kEbgp), attr_type::kMed);
    // Fewer than 3 octets left for an attribute header.
    auto r = decode_update(body(with_base("80 04")), kEbgp);
    REQUIRE(r.has_value());
    CHECK(r->treat_as_withdraw());
    CHECK(r->routes_withdrawn() == std::vector<Prefix>{Prefix::v4(0xc0000200, 24)});
    // Extended Length flag with only one length octet left.
    auto e = decode_update(body(with_base("90 04 00")), kEbgp);
    REQUIRE(e.has_value());
    CHECK(e->treat_as_withdraw());
}

TEST_CASE("RFC 7606 5.1: MP_REACH/MP_UNREACH_NLRI are encoded first", "[bgp][rfc7606]") {
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path = AsPath{};
    u.attributes.mp_unreach = MpUnreach{kIpv6Unicast, {}};
    auto out = encode_update(u, kEbgp);
    REQUIRE(out.has_value());
    CHECK((*out)[23] == 0x80);
    CHECK((*out)[24] == attr_type::kMpUnreachNlri);
}

TEST_CASE("RFC 7606 5.3: NLRI syntax", "[bgp][rfc7606]") {
    // Prefix length > 32 in the NLRI field: session reset, Invalid Network Field.
    require_reset(decode_update(body(hex(kBase), hex("21 c0000201 00")), kEbgp),
                  update_error::kInvalidNetworkField);
    // Prefix overrunning the NLRI field.
    require_reset(decode_update(body(hex(kBase), hex("18 c000")), kEbgp),
                  update_error::kInvalidNetworkField);
    // Host bits set beyond the prefix length: treat-as-withdraw of the masked prefix.
    auto r = decode_update(body(hex(kBase), hex("17 c00003")), kEbgp);
    REQUIRE(r.has_value());
    CHECK(r->treat_as_withdraw());
    CHECK(r->routes_withdrawn() == std::vector<Prefix>{Prefix::v4(0xc0000200, 23)});
}

TEST_CASE("RFC 7606 7.1: ORIGIN length or value errors are treat-as-withdraw", "[bgp][rfc7606]") {
    require_withdraw(decode_update(body(hex("40 01 02 0000  40 02 00  40 03 04 c6336401")), kEbgp),
                     attr_type::kOrigin);
    require_withdraw(decode_update(body(hex("40 01 00  40 02 00  40 03 04 c6336401")), kEbgp),
                     attr_type::kOrigin);
    require_withdraw(decode_update(body(hex("40 01 01 03  40 02 00  40 03 04 c6336401")), kEbgp),
                     attr_type::kOrigin);
}

TEST_CASE("RFC 7606 7.2: malformed AS_PATH is treat-as-withdraw", "[bgp][rfc7606]") {
    const char* cases[] = {
        "40 02 06 00 01 0000fde9",     // segment type 0
        "40 02 06 05 01 0000fde9",     // segment type 5
        "40 02 02 02 00",              // segment of length zero
        "40 02 06 02 02 0000fde9",     // segment overruns the attribute
        "40 02 07 02 01 0000fde9 00",  // trailing octet
        "40 02 06 03 01 0000fde9",     // AS_CONFED_SEQUENCE from an external peer
        "40 02 06 02 01 00000000",     // AS 0 (RFC 7607 section 2)
    };
    for (const char* as_path : cases) {
        INFO(as_path);
        require_withdraw(decode_update(body(test::cat(test::cat(hex("40 01 01 00"), hex(as_path)),
                                                      hex("40 03 04 c6336401"))),
                                       kEbgp),
                         attr_type::kAsPath);
    }
    // Confederation segments are fine from an internal peer.
    auto ibgp =
        decode_update(body(hex("40 01 01 00 40 02 06 03 01 0000fde9 40 03 04 c6336401")), kIbgp);
    REQUIRE(ibgp.has_value());
    CHECK(ibgp->disposition() == Severity::None);
}

TEST_CASE("RFC 7606 7.3: NEXT_HOP length or value errors are treat-as-withdraw", "[bgp][rfc7606]") {
    for (const char* nh :
         {"40 03 03 c63364", "40 03 04 e0000001", "40 03 04 00000000", "40 03 04 7f000001"}) {
        INFO(nh);
        require_withdraw(
            decode_update(body(test::cat(hex("40 01 01 00 40 02 00"), hex(nh))), kEbgp),
            attr_type::kNextHop);
    }
}

TEST_CASE("RFC 7606 7.4: MULTI_EXIT_DISC length error is treat-as-withdraw", "[bgp][rfc7606]") {
    require_withdraw(decode_update(body(with_base("80 04 03 000064")), kEbgp), attr_type::kMed);
    require_withdraw(decode_update(body(with_base("80 04 05 0000000064")), kEbgp), attr_type::kMed);
}

TEST_CASE("RFC 7606 7.5: LOCAL_PREF discarded from external, length-checked from internal",
          "[bgp][rfc7606]") {
    require_discard(decode_update(body(with_base("40 05 04 00000064")), kEbgp),
                    attr_type::kLocalPref);
    require_discard(decode_update(body(with_base("40 05 03 000064")), kEbgp),
                    attr_type::kLocalPref);
    require_withdraw(decode_update(body(with_base("40 05 03 000064")), kIbgp),
                     attr_type::kLocalPref);
    auto ok = decode_update(body(with_base("40 05 04 00000064")), kIbgp);
    REQUIRE(ok.has_value());
    CHECK(ok->attributes.local_pref == 100u);
}

TEST_CASE("RFC 7606 7.6: ATOMIC_AGGREGATE length error is attribute discard", "[bgp][rfc7606]") {
    auto r = decode_update(body(with_base("40 06 01 00")), kEbgp);
    require_discard(r, attr_type::kAtomicAggregate);
    CHECK_FALSE(r->attributes.atomic_aggregate);
}

TEST_CASE("RFC 7606 7.7: AGGREGATOR length must match the session AS size", "[bgp][rfc7606]") {
    auto r4 = decode_update(body(with_base("c0 07 06 fde9 c0000201")), kEbgp);
    require_discard(r4, attr_type::kAggregator);
    CHECK_FALSE(r4->attributes.aggregator.has_value());
    require_discard(decode_update(body(hex("40 01 01 00 40 02 04 02 01 fde9 40 03 04 c6336401"
                                           "c0 07 08 0000fde9 c0000201")),
                                  kEbgp2),
                    attr_type::kAggregator);
    // RFC 7607 section 2: AGGREGATOR with AS 0 is discarded.
    require_discard(decode_update(body(with_base("c0 07 08 00000000 c0000201")), kEbgp),
                    attr_type::kAggregator);
}

TEST_CASE("RFC 7606 7.8: COMMUNITIES length not a non-zero multiple of 4 is treat-as-withdraw",
          "[bgp][rfc7606]") {
    require_withdraw(decode_update(body(with_base("c0 08 05 fde9006400")), kEbgp),
                     attr_type::kCommunities);
    require_withdraw(decode_update(body(with_base("c0 08 00")), kEbgp), attr_type::kCommunities);
}

TEST_CASE("RFC 7606 7.9: ORIGINATOR_ID", "[bgp][rfc7606]") {
    require_discard(decode_update(body(with_base("80 09 04 0a000001")), kEbgp),
                    attr_type::kOriginatorId);
    require_withdraw(decode_update(body(with_base("80 09 03 0a0000")), kIbgp),
                     attr_type::kOriginatorId);
}

TEST_CASE("RFC 7606 7.10: CLUSTER_LIST", "[bgp][rfc7606]") {
    require_discard(decode_update(body(with_base("80 0a 04 0a000001")), kEbgp),
                    attr_type::kClusterList);
    require_withdraw(decode_update(body(with_base("80 0a 05 0a00000100")), kIbgp),
                     attr_type::kClusterList);
}

TEST_CASE("RFC 7606 7.11: MP_REACH_NLRI next hop length inconsistent with AFI resets",
          "[bgp][rfc7606]") {
    // IPv6 with a 4-octet next hop, IPv6 with 24 octets, IPv4 with 16 octets.
    for (const char* mp : {"80 0e 0c 0002 01 04 c6336401 00 18 c00002",
                           "80 0e 1c 0002 01 18 000000000000000000000000000000000000000000000000 00"
                           " 00",
                           "80 0e 19 0001 01 10 20010db8000000000000000000000001 00 00 00 00"}) {
        INFO(mp);
        Bytes attr = hex(mp);
        attr[2] = static_cast<std::uint8_t>(attr.size() - 3);
        require_reset(decode_update(body(test::cat(hex("40 01 01 00 40 02 00"), attr), {}), kEbgp),
                      update_error::kOptionalAttributeError);
    }
    // An AFI/SAFI this codec does not carry is discarded, not fatal.
    auto other = decode_update(body(hex("80 0e 05 0001 80 00 00"), {}), kEbgp);
    REQUIRE(other.has_value());
    CHECK(has_error<AttributeDiscard>(*other, attr_type::kMpReachNlri));
}

TEST_CASE("RFC 7606 7.12: malformed MP_UNREACH_NLRI resets the session", "[bgp][rfc7606]") {
    require_reset(decode_update(body(hex("80 0f 06 0002 01 30 2001"), {}), kEbgp),
                  update_error::kOptionalAttributeError);
    require_reset(decode_update(body(hex("80 0f 02 0002"), {}), kEbgp),
                  update_error::kAttributeLengthError);
}

TEST_CASE("RFC 7606 7.14: EXTENDED COMMUNITIES length not a multiple of 8 is treat-as-withdraw",
          "[bgp][rfc7606]") {
    require_withdraw(decode_update(body(with_base("c0 10 09 0002fde90000000100")), kEbgp),
                     attr_type::kExtendedCommunities);
    auto ok = decode_update(body(with_base("c0 10 08 0002fde900000001")), kEbgp);
    REQUIRE(ok.has_value());
    CHECK(ok->attributes.extended_communities == std::vector<std::uint64_t>{0x0002fde900000001});
}

TEST_CASE("RFC 6793 section 6: malformed AS4_PATH / AS4_AGGREGATOR are discarded",
          "[bgp][rfc7606][rfc6793]") {
    const char* base2 = "40 01 01 00 40 02 04 02 01 5ba0 40 03 04 c6336401";
    require_discard(
        decode_update(body(test::cat(hex(base2), hex("c0 11 06 02 02 fa56ea01"))), kEbgp2),
        attr_type::kAs4Path);
    require_discard(
        decode_update(body(test::cat(hex(base2), hex("c0 11 06 03 01 fa56ea01"))), kEbgp2),
        attr_type::kAs4Path);
    require_discard(
        decode_update(body(test::cat(hex(base2), hex("c0 12 06 5ba0 c0000201"))), kEbgp2),
        attr_type::kAs4Aggregator);
    // RFC 6793 section 4.1: a 4-octet speaker discards AS4_PATH from another one.
    require_discard(decode_update(body(with_base("c0 11 06 02 01 fa56ea01")), kEbgp),
                    attr_type::kAs4Path);
}

TEST_CASE("RFC 8092 section 6: LARGE_COMMUNITY length not a multiple of 12 is treat-as-withdraw",
          "[bgp][rfc7606][rfc8092]") {
    require_withdraw(
        decode_update(body(with_base("c0 20 0d 0000fde9 00000001 00000002 00")), kEbgp),
        attr_type::kLargeCommunity);
    require_withdraw(decode_update(body(with_base("c0 20 00")), kEbgp), attr_type::kLargeCommunity);
}
