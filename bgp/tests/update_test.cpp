// UPDATE codec: well-formed messages. Octets hand-assembled from RFC 4271 section 4.3 and the
// attribute diagrams of RFC 4271 5.1, RFC 1997, RFC 4760 sections 3-4, RFC 6793, RFC 8092.
#include <catch2/catch.hpp>

#include "cgwd/bgp/update.hpp"
#include "test_util.hpp"

using namespace cgwd::bgp;
using cgwd::bgp::test::hex;

namespace {

ByteView body_of(const Bytes& msg) {
    return ByteView(msg).subspan(kHeaderSize);
}

const UpdateContext kEbgp4{true, true};
const UpdateContext kEbgp2{false, true};

// ORIGIN IGP, AS_PATH (65001 65002), NEXT_HOP 198.51.100.1, MED 100, COMMUNITIES 65001:100,
// LARGE_COMMUNITY 65001:1:2, NLRI 192.0.2.0/24 -- on a 4-octet AS session.
const char* kUpdate4 =
    "ffffffffffffffffffffffffffffffff 0050 02"
    "0000 0035"
    "40 01 01 00"
    "40 02 0a 02 02 0000fde9 0000fdea"
    "40 03 04 c6336401"
    "80 04 04 00000064"
    "c0 08 04 fde90064"
    "c0 20 0c 0000fde9 00000001 00000002"
    "18 c00002";

Update sample_update() {
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path = AsPath{{AsPathSegment::Type::Sequence, {65001, 65002}}};
    u.attributes.next_hop = 0xc6336401;
    u.attributes.med = 100;
    u.attributes.communities = {0xfde90064};
    u.attributes.large_communities = {{65001, 1, 2}};
    u.nlri = {Prefix::v4(0xc0000200, 24)};
    return u;
}

}  // namespace

TEST_CASE("UPDATE with the common attributes decodes", "[bgp][update]") {
    const Bytes msg = hex(kUpdate4);
    auto u = decode_update(body_of(msg), kEbgp4);
    REQUIRE(u.has_value());
    CHECK(u->errors.empty());
    CHECK(u->disposition() == Severity::None);
    CHECK(u->attributes == sample_update().attributes);
    REQUIRE(u->nlri.size() == 1);
    CHECK(u->nlri[0].to_string() == "192.0.2.0/24");
    CHECK(u->routes_announced() == u->nlri);
    CHECK(u->routes_withdrawn().empty());
    CHECK_FALSE(u->end_of_rib().has_value());
}

TEST_CASE("UPDATE encodes to the exact octets", "[bgp][update]") {
    auto out = encode_update(sample_update(), kEbgp4);
    REQUIRE(out.has_value());
    CHECK(*out == hex(kUpdate4));
}

TEST_CASE("AS_PATH is 2-octet on a session without the 4-octet capability", "[bgp][update]") {
    const Bytes body = hex("0000 000d 40 01 01 02 40 02 06 02 02 fde9 fdea 18 c00002");
    auto u = decode_update(body, kEbgp2);
    REQUIRE(u.has_value());
    REQUIRE(u->attributes.as_path.has_value());
    CHECK(*u->attributes.as_path == AsPath{{AsPathSegment::Type::Sequence, {65001, 65002}}});
    CHECK(u->attributes.origin == Origin::Incomplete);
}

TEST_CASE("2-octet session: 4-octet ASNs go out as AS_TRANS plus AS4_PATH/AS4_AGGREGATOR",
          "[bgp][update][rfc6793]") {
    Update u;
    u.attributes.origin = Origin::Igp;
    u.attributes.as_path = AsPath{{AsPathSegment::Type::Sequence, {65001, 4200000001u}}};
    u.attributes.aggregator = Aggregator{4200000001u, 0xc0000201};
    auto out = encode_update(u, kEbgp2);
    REQUIRE(out.has_value());
    const Bytes attrs =
        hex("40 01 01 00"
            "40 02 06 02 02 fde9 5ba0"
            "c0 07 06 5ba0 c0000201"
            "c0 11 0a 02 02 0000fde9 fa56ea01"
            "c0 12 08 fa56ea01 c0000201");
    CHECK(Bytes(out->begin() + 23, out->end()) == attrs);

    // The same UPDATE received by a 2-octet speaker keeps AS4_PATH and AS4_AGGREGATOR.
    auto back = decode_update(body_of(*out), kEbgp2);
    REQUIRE(back.has_value());
    CHECK(back->errors.empty());
    CHECK(*back->attributes.as4_path == *u.attributes.as_path);
    CHECK(back->attributes.as4_aggregator == Aggregator{4200000001u, 0xc0000201});
    CHECK(back->attributes.aggregator == Aggregator{kAsTrans, 0xc0000201});
}

TEST_CASE("MP_REACH_NLRI / MP_UNREACH_NLRI for IPv6 unicast", "[bgp][update][rfc4760]") {
    const Bytes nh16 = hex("20010db8000000000000000000000001");
    const Bytes nh32 = hex("20010db8000000000000000000000001 fe800000000000000000000000000001");
    for (const Bytes& nh : {nh16, nh32}) {
        Update u;
        u.attributes.origin = Origin::Igp;
        u.attributes.as_path = AsPath{};
        std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01};
        u.attributes.mp_reach = MpReach{kIpv6Unicast, nh, {Prefix::v6(a, 48)}};
        u.attributes.mp_unreach = MpUnreach{kIpv6Unicast, {Prefix::v6(a, 64)}};
        auto out = encode_update(u, kEbgp4);
        REQUIRE(out.has_value());
        Bytes expected = hex("0000");
        const Bytes mp_unreach = hex("80 0f 0c 0002 01 40 20010db800010000");
        Bytes mp_reach = hex("80 0e");
        mp_reach.push_back(static_cast<std::uint8_t>(5 + nh.size() + 7));
        mp_reach = test::cat(mp_reach, hex("0002 01"));
        mp_reach.push_back(static_cast<std::uint8_t>(nh.size()));
        mp_reach = test::cat(test::cat(mp_reach, nh), hex("00 30 20010db80001"));
        const Bytes rest = hex("40 01 01 00 40 02 00");
        const std::size_t total = mp_unreach.size() + mp_reach.size() + rest.size();
        expected.push_back(0);
        expected.push_back(static_cast<std::uint8_t>(total));
        expected = test::cat(test::cat(test::cat(expected, mp_unreach), mp_reach), rest);
        CHECK(Bytes(out->begin() + 19, out->end()) == expected);

        auto back = decode_update(body_of(*out), kEbgp4);
        REQUIRE(back.has_value());
        CHECK(back->errors.empty());
        CHECK(back->attributes == u.attributes);
        CHECK(back->routes_announced() == u.attributes.mp_reach->nlri);
        CHECK(back->routes_withdrawn() == u.attributes.mp_unreach->withdrawn);
    }
}

TEST_CASE("End-of-RIB markers (RFC 4724 section 2)", "[bgp][update][rfc4724]") {
    CHECK(encode_end_of_rib(kIpv4Unicast) ==
          hex("ffffffffffffffffffffffffffffffff 0017 02 0000 0000"));
    CHECK(encode_end_of_rib(kIpv6Unicast) ==
          hex("ffffffffffffffffffffffffffffffff 001d 02 0000 0006 80 0f 03 0002 01"));
    auto v4 = decode_update(hex("0000 0000"), kEbgp4);
    REQUIRE(v4.has_value());
    CHECK(v4->end_of_rib() == kIpv4Unicast);
    auto v6 = decode_update(hex("0000 0006 80 0f 03 0002 01"), kEbgp4);
    REQUIRE(v6.has_value());
    CHECK(v6->end_of_rib() == kIpv6Unicast);
}

TEST_CASE("AGGREGATOR, ATOMIC_AGGREGATE, extended length and unrecognized optionals",
          "[bgp][update]") {
    const Bytes body =
        hex("0000 002d"
            "40 01 01 00"
            "40 02 00"
            "40 03 04 c6336401"
            "40 06 00"
            "c0 07 08 0000fde9 c0000201"
            "d0 08 0004 fde90064"  // COMMUNITIES with the Extended Length bit
            "e0 63 02 abcd"        // unrecognized optional transitive (Partial set)
            "80 64 01 00"          // unrecognized optional non-transitive
            "08 0a");
    auto u = decode_update(body, kEbgp4);
    REQUIRE(u.has_value());
    CHECK(u->errors.empty());
    CHECK(u->attributes.atomic_aggregate);
    CHECK(u->attributes.aggregator == Aggregator{65001, 0xc0000201});
    CHECK(u->attributes.communities == std::vector<std::uint32_t>{0xfde90064});
    REQUIRE(u->attributes.unrecognized.size() == 2);
    CHECK(u->attributes.unrecognized[0] == RawAttribute{0xe0, 0x63, hex("abcd")});
    CHECK(u->attributes.unrecognized[1] == RawAttribute{0x80, 0x64, hex("00")});
    CHECK(u->nlri[0].to_string() == "10.0.0.0/8");
}

TEST_CASE("attribute values over 255 octets are encoded with Extended Length", "[bgp][update]") {
    Update u;
    for (std::uint32_t i = 0; i < 70; ++i) u.attributes.communities.push_back(0xfde90000 + i);
    auto out = encode_update(u, kEbgp4);
    REQUIRE(out.has_value());
    CHECK(Bytes(out->begin() + 23, out->begin() + 27) == hex("d0 08 0118"));
    auto back = decode_update(body_of(*out), kEbgp4);
    REQUIRE(back.has_value());
    CHECK(back->attributes.communities == u.attributes.communities);
}

TEST_CASE("UPDATE larger than 4096 octets is refused by the encoder", "[bgp][update]") {
    Update u;
    for (std::uint32_t i = 0; i < 1100; ++i)
        u.nlri.push_back(Prefix::v4(0x0a000000 + (i << 8), 24));
    CHECK_FALSE(encode_update(u, kEbgp4).has_value());
}

TEST_CASE("RFC 6793 section 4.2.3: AS_PATH and AS4_PATH are merged", "[bgp][update][rfc6793]") {
    // A 2-octet speaker (65010) prepended itself in front of a path that a 4-octet speaker
    // had sent as AS_TRANS + AS4_PATH.
    PathAttributes a;
    a.as_path = AsPath{{AsPathSegment::Type::Sequence, {65010, kAsTrans, 65001}}};
    a.as4_path = AsPath{{AsPathSegment::Type::Sequence, {4200000001u, 65001}}};
    CHECK(effective_as_path(a) == AsPath{{AsPathSegment::Type::Sequence, {65010}},
                                         {AsPathSegment::Type::Sequence, {4200000001u, 65001}}});

    SECTION("AS4_PATH longer than AS_PATH is ignored") {
        a.as4_path = AsPath{{AsPathSegment::Type::Sequence, {1, 2, 3, 4}}};
        CHECK(effective_as_path(a) == *a.as_path);
    }
    SECTION("an AGGREGATOR that is not AS_TRANS voids AS4_PATH and AS4_AGGREGATOR") {
        a.aggregator = Aggregator{65010, 1};
        a.as4_aggregator = Aggregator{4200000001u, 1};
        CHECK(effective_as_path(a) == *a.as_path);
        CHECK(effective_aggregator(a) == Aggregator{65010, 1});
        a.aggregator = Aggregator{kAsTrans, 1};
        CHECK(effective_aggregator(a) == Aggregator{4200000001u, 1});
    }
    SECTION("an AS_SET counts as one AS") {
        a.as_path = AsPath{{AsPathSegment::Type::Set, {65020, 65021}},
                           {AsPathSegment::Type::Sequence, {kAsTrans}}};
        a.as4_path = AsPath{{AsPathSegment::Type::Sequence, {4200000001u}}};
        CHECK(effective_as_path(a) == AsPath{{AsPathSegment::Type::Set, {65020, 65021}},
                                             {AsPathSegment::Type::Sequence, {4200000001u}}});
    }
}
